"""Settings for the test suite: the real settings module plus fast, local-only services.

DATABASE_URL and CELERY_BROKER_URL still come from the environment, so the same suite runs on SQLite with an
in-memory broker by default and on PostgreSQL and Redis in CI.
"""

import os
import re

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-for-the-registry-test-suite-0123456789")
os.environ.setdefault("CELERY_BROKER_URL", "memory://")
os.environ.setdefault("REGISTRY_VAR_DIR", os.path.join(os.path.dirname(os.path.dirname(__file__)), "var", "test"))

# Parallel runs (pytest-xdist, `dev.py test -n 2`): pytest-django gives each worker its own
# test database; here each also gets its own folder (demo clock, exports) and its own Redis database, counting down
# from the configured one, so one worker's Celery tasks never reach another worker's database. Set in the
# environment, so the workers and live servers that tests start as subprocesses inherit them.
_xdist_worker = os.environ.get("PYTEST_XDIST_WORKER", "")
if _xdist_worker.startswith("gw"):
    _index = int(_xdist_worker[2:])
    os.environ["REGISTRY_VAR_DIR"] = os.path.join(os.environ["REGISTRY_VAR_DIR"], _xdist_worker)
    _broker = os.environ["CELERY_BROKER_URL"]
    _redis_db = re.fullmatch(r"(redis://[^/]*)/(\d+)", _broker) or re.fullmatch(r"(redis://[^/]*)/?", _broker)
    if _redis_db:
        _base = int(_redis_db.group(2)) if _redis_db.lastindex == 2 else 0
        _db = _base - _index if _base >= _index else _base + _index
        os.environ["CELERY_BROKER_URL"] = f"{_redis_db.group(1)}/{_db}"
os.environ["DEBUG"] = "false"

from project.settings import *  # noqa: E402, F403
from project.settings import DATABASES, STORAGES  # noqa: E402

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
TEXT_BACKEND = "outcomes.texting.backends.locmem.TextBackend"
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
LANGUAGE_COOKIE_SECURE = False
WHITENOISE_AUTOREFRESH = True  # no collectstatic in tests
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"scrub_tokens": {"()": "project.logscrub.ScrubTokensFilter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["scrub_tokens"]}},
    "root": {"level": "WARNING"},
    "loggers": {
        "django.server": {"handlers": ["console"], "level": "WARNING", "propagate": False},
        "django.request": {"handlers": ["console"], "level": "ERROR", "propagate": True},
    },
}
# Close connections after each request and Celery task, so worker and live-server threads leave none behind.
DATABASES["default"]["CONN_MAX_AGE"] = 0
