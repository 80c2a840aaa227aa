"""The production stack in docker-compose.yml and the Dockerfile hang together with the settings the app reads.

Docker is not needed: the files are read as data. The last test starts Django's settings with exactly the
environment an app container gets from the stack and .env.example, so a variable the settings reject stops it here.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
APP_SERVICES = ["web", "worker", "beat", "migrate"]


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


def _env_example() -> dict[str, str]:
    values = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


def _variables_the_settings_read() -> set[str]:
    """Every NAME the settings pass to an env_* helper; env_secret also reads NAME_FILE."""
    source = (ROOT / "project" / "settings.py").read_text()
    names = set(re.findall(r"\benv_\w+\(\s*\"([A-Z][A-Z0-9_]*)\"", source))
    secrets = set(re.findall(r"\benv_secret\(\s*\"([A-Z][A-Z0-9_]*)\"", source))
    return names | {f"{name}_FILE" for name in secrets}


def _interpolated(compose_text: str) -> set[str]:
    """Variables docker compose itself substitutes (${NAME} or ${NAME:-default}) while reading the file."""
    return set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", compose_text))


def test_it_runs_the_six_services(services):
    assert set(services) == {"postgres", "redis", "web", "worker", "beat", "migrate"}
    assert services["postgres"]["image"] == "postgres:15"
    assert services["redis"]["image"] == "redis:7"


def test_web_worker_beat_and_migrate_share_one_image(services):
    builds = {repr(services[name].get("build")) for name in APP_SERVICES}
    images = {services[name].get("image") for name in APP_SERVICES}
    assert len(builds) == 1 and builds != {"None"}
    assert len(images) == 1 and images != {None}


@pytest.mark.parametrize("name", ["postgres", "redis"])
def test_the_data_services_have_healthchecks(services, name):
    test = services[name]["healthcheck"]["test"]
    command = " ".join(test) if isinstance(test, list) else test
    assert ("pg_isready" if name == "postgres" else "ping") in command


@pytest.mark.parametrize("name", ["web", "worker", "beat"])
def test_app_services_wait_for_healthy_postgres_and_redis_and_the_migration(services, name):
    depends = services[name]["depends_on"]
    assert depends["postgres"]["condition"] == "service_healthy"
    assert depends["redis"]["condition"] == "service_healthy"
    assert depends["migrate"]["condition"] == "service_completed_successfully"


def test_web_runs_gunicorn_on_the_wsgi_app_and_worker_and_beat_run_celery(services):
    web = services["web"]["command"]
    assert web[:2] == ["gunicorn", "project.wsgi"]
    assert services["worker"]["command"][:4] == ["celery", "-A", "project", "worker"]
    assert services["beat"]["command"][:4] == ["celery", "-A", "project", "beat"]
    assert services["migrate"]["command"][-3:] == ["manage.py", "migrate", "--noinput"]


def test_every_variable_given_to_the_app_is_one_the_settings_read(compose, services):
    read = _variables_the_settings_read()
    assert {"SECRET_KEY", "DATABASE_URL", "CELERY_BROKER_URL", "EMAIL_PORT"} <= read  # the parser found them
    compose_only = _interpolated((ROOT / "docker-compose.yml").read_text())  # e.g. POSTGRES_PASSWORD
    for name in APP_SERVICES:
        set_by_stack = set(services[name].get("environment") or {})
        assert set_by_stack - read == set(), name
    assert set(_env_example()) - read - compose_only == set()


def test_web_is_reachable_only_by_the_proxy_the_example_trusts(services):
    # REGISTRY_TRUSTED_PROXIES=1 reads X-Forwarded-For: a client that reached gunicorn itself could forge it.
    assert services["web"]["ports"] == ["127.0.0.1:8000:8000"]
    assert _env_example()["REGISTRY_TRUSTED_PROXIES"] == "1"
    assert _env_example()["SECURE_PROXY_SSL_HEADER"] == "true"  # the same proxy, the same trust


def test_the_dockerfile_builds_the_whole_app(tmp_path):
    """What the image holds is what its COPY lines copy: every package pyproject.toml names (the web command's
    `project.wsgi` among them), and what the build reads (README, the licence file); `pip install .` of exactly
    those builds."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11", dockerfile, flags=re.MULTILINE)
    copied: set[str] = set()
    for line in re.findall(r"^COPY\s+(.+)$", dockerfile, flags=re.MULTILINE):
        *sources, _destination = line.split()
        copied.update(sources)
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    packages = {p.rstrip("*") for p in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]}
    apps = {p.name for p in ROOT.iterdir() if (p / "__init__.py").exists() and p.name != "tests"}
    assert packages == apps  # pyproject names every app
    build_reads = {"pyproject.toml", pyproject["project"]["readme"], *pyproject["project"]["license-files"]}
    assert packages | build_reads | {"manage.py"} <= copied
    # The build itself, from a tree of only what was copied (setuptools from the venv; no network).
    tree = tmp_path / "app"
    for name in copied:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, tree / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            tree.mkdir(exist_ok=True)
            shutil.copy2(source, tree / name)
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(tmp_path), "."],
        cwd=tree,
        capture_output=True,
        text=True,
    )
    assert built.returncode == 0, built.stderr[-2000:]
    with zipfile.ZipFile(next(tmp_path.glob("*.whl"))) as wheel:
        names = set(wheel.namelist())
    assert {f"{package}/__init__.py" for package in packages} <= names
    assert "project/wsgi.py" in names


def test_an_app_container_environment_passes_the_settings(services, tmp_path):
    # What `docker compose` hands the web container: .env (from .env.example) plus the stack's own variables.
    env = {**_env_example(), **{k: str(v) for k, v in services["web"]["environment"].items()}}
    env = {k: v.replace("${POSTGRES_PASSWORD:-registry}", env["POSTGRES_PASSWORD"]) for k, v in env.items()}
    env.update(
        {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "DJANGO_SETTINGS_MODULE": "project.settings",
            "REGISTRY_VAR_DIR": str(tmp_path),
        }
    )
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.DATABASES['default']['ENGINE'], s.DATABASES['default']['HOST'], s.EMAIL_PORT, s.DEBUG)"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["django.db.backends.postgresql", "postgres", "587", "False"]
