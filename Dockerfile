# One image for web, worker and beat (docker-compose.yml chooses the command).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app

RUN useradd --create-home --uid 10001 registry
COPY pyproject.toml README.md LICENSE ./
COPY project ./project
COPY registry ./registry
COPY outcomes ./outcomes
COPY research ./research
COPY interop ./interop
COPY scoring ./scoring
COPY manage.py ./
RUN pip install .
# Static files are collected at build time and served by WhiteNoise from the image.
RUN DEBUG=false SECRET_KEY=build-only-not-secret STATIC_ROOT=/app/static CELERY_BROKER_URL=memory:// \
    DATABASE_URL=sqlite:////tmp/build.sqlite3 python manage.py collectstatic --noinput
ENV STATIC_ROOT=/app/static REGISTRY_VAR_DIR=/tmp/registry
USER registry
EXPOSE 8000
CMD ["gunicorn", "project.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-", "--logger-class", "project.logscrub.GunicornScrubbingLogger"]
