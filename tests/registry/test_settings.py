"""Settings come from the environment; a missing or malformed value stops start-up with a message naming it.

Each case starts a fresh Python with a controlled environment (nothing inherited but PATH), because settings are
read once, at import. The cases are started side by side once per module, then each test checks its own.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.conf import settings
from django.middleware.csrf import CsrfViewMiddleware
from django.utils.module_loading import import_string

ROOT = Path(__file__).resolve().parents[2]
SETUP = [
    sys.executable,
    "-c",
    "import django; django.setup(); from django.conf import settings as s; "
    "print(repr((s.SECRET_KEY, s.DEBUG, s.EMAIL_PORT, s.TIME_ZONE, s.DATABASES['default']['ENGINE'])))",
]
DEPLOY_CHECK = [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"]
KEY_IN_FILE = secrets.token_urlsafe(50)

MALFORMED = [
    ("DEBUG", "maybe"),
    ("EMAIL_PORT", "smtp"),
    ("EMAIL_PORT", "70000"),
    ("DATABASE_URL", "mongodb://localhost/registry"),
    ("TIME_ZONE", "Mars/Olympus_Mons"),
    ("EMAIL_BACKEND", "pigeon"),
    ("SESSION_COOKIE_AGE", "10"),
    ("LOG_LEVEL", "chatty"),
    ("REGISTRY_TRUSTED_PROXIES", "-1"),
    ("REGISTRY_TRUSTED_PROXIES", "all"),
]


def _scenarios(tmp: Path) -> dict[str, tuple[list[str], dict[str, str]]]:
    key_file = tmp / "secret_key"
    key_file.write_text(KEY_IN_FILE + "\n")
    production = {
        "DEBUG": "false",
        "ALLOWED_HOSTS": "registry.example.org",
        "DATABASE_URL": f"sqlite:///{tmp / 'registry.sqlite3'}",
    }
    return {
        "debug": (SETUP, {"DEBUG": "true"}),
        "no secret key": (SETUP, {"DEBUG": "false"}),
        "nothing set": (SETUP, {}),
        "secret key file": (SETUP, {"DEBUG": "false", "SECRET_KEY_FILE": str(key_file)}),
        "missing secret key file": (SETUP, {"DEBUG": "false", "SECRET_KEY_FILE": str(tmp / "missing")}),
        "lowercase log level": (SETUP, {"DEBUG": "true", "LOG_LEVEL": "debug"}),
        "production": (DEPLOY_CHECK, {**production, "SECRET_KEY": secrets.token_urlsafe(64)}),
        "production, weak key": (DEPLOY_CHECK, {**production, "SECRET_KEY": "short"}),
        **{f"{name}={value}": (SETUP, {"SECRET_KEY": "x" * 60, name: value}) for name, value in MALFORMED},
    }


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, tuple[subprocess.CompletedProcess, Path]]:
    tmp = tmp_path_factory.mktemp("settings")

    def run(item: tuple[str, tuple[list[str], dict[str, str]]]) -> tuple[subprocess.CompletedProcess, Path]:
        name, (command, env) = item
        var_dir = tmp / re.sub(r"\W+", "-", name)
        environment = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "DJANGO_SETTINGS_MODULE": "project.settings",
            "REGISTRY_VAR_DIR": str(var_dir),
            **env,
        }
        result = subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120)
        return result, var_dir

    scenarios = _scenarios(tmp)
    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(zip(scenarios, pool.map(run, scenarios.items()), strict=True))


def _error(result: subprocess.CompletedProcess) -> str:
    """The last line of the traceback: the exception and its message."""
    assert result.returncode != 0, "it started"
    return result.stderr.strip().splitlines()[-1]


def test_debug_mode_starts_without_a_secret_key(runs):
    result, var_dir = runs["debug"]
    assert result.returncode == 0, result.stderr
    assert "True, 25, 'UTC', 'django.db.backends.sqlite3')" in result.stdout
    assert (var_dir / "broker" / "out").is_dir()  # the demo's folder broker lives under REGISTRY_VAR_DIR


def test_it_refuses_to_start_without_secret_key_when_debug_is_off(runs):
    error = _error(runs["no secret key"][0])
    assert error.startswith("django.core.exceptions.ImproperlyConfigured:")
    assert "SECRET_KEY" in error


def test_debug_is_off_unless_turned_on(runs):
    assert "SECRET_KEY is required when DEBUG is off" in _error(runs["nothing set"][0])


def test_it_reads_the_secret_key_from_secret_key_file(runs):
    result, _ = runs["secret key file"]
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"({KEY_IN_FILE!r}, False,")  # the file's content, its newline stripped


def test_a_secret_key_file_that_does_not_exist_is_named(runs):
    assert "SECRET_KEY_FILE" in _error(runs["missing secret key file"][0])


@pytest.mark.parametrize(("variable", "value"), MALFORMED)
def test_a_malformed_value_stops_start_up_naming_the_variable(runs, variable, value):
    error = _error(runs[f"{variable}={value}"][0])
    assert error.startswith("django.core.exceptions.ImproperlyConfigured:")
    assert variable in error
    assert "None" not in error  # "between 60 and None" would be no help


def test_a_lowercase_log_level_is_accepted(runs):
    result, _ = runs["lowercase log level"]
    assert result.returncode == 0, result.stderr


def test_production_settings_pass_the_deploy_check_without_warnings(runs):
    result, _ = runs["production"]
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_the_deploy_check_fails_on_a_weak_secret_key(runs):
    # The same command with one bad value fails, so the pass above means something.
    result, _ = runs["production, weak key"]
    assert result.returncode != 0
    assert "security.W009" in result.stdout + result.stderr


def test_csrf_protection_is_on():
    # The deploy check's own test for this (security.W003) is silenced: it knows the middleware by name only.
    classes = [import_string(path) for path in settings.MIDDLEWARE]
    assert any(isinstance(c, type) and issubclass(c, CsrfViewMiddleware) for c in classes)


@pytest.mark.parametrize(
    ("debug", "given", "expected"),
    [
        ("true", None, "http://127.0.0.1:8123"),  # the demo's own port, from the file dev.py writes
        ("true", "https://registry.example.org", "https://registry.example.org"),  # the environment wins
        ("false", None, "http://127.0.0.1:8000"),  # production never reads the demo's file
    ],
)
def test_links_follow_the_demo_s_address_in_every_process(tmp_path, debug, given, expected):
    (tmp_path / "demo-base-url").write_text("http://127.0.0.1:8123\n")
    env = {
        "PATH": os.environ["PATH"],
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "DEBUG": debug,
        "SECRET_KEY": secrets.token_urlsafe(50),
        "REGISTRY_VAR_DIR": str(tmp_path),
        "PYTHONPATH": str(ROOT),
    }
    if given:
        env["REGISTRY_BASE_URL"] = given
    code = "import django; django.setup(); from django.conf import settings as s; print(s.REGISTRY_BASE_URL)"
    done = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == expected
