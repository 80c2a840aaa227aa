"""Security headers on every page, login lockout, the idle timeout, and patient links under attack."""

from __future__ import annotations

import logging
import secrets
from datetime import UTC, datetime

import pytest
import time_machine
from django.test import Client, override_settings

from project.logscrub import GunicornScrubbingLogger, ScrubTokensFilter, scrub

pytestmark = pytest.mark.django_db

PAGES = [
    "/admin/login/",
    "/admin/",
    "/p/q/",
    "/p/" + "A" * 43 + "/",
    "/api/v1/schema/",
    "/api/v1/docs/",
    "/api/v1/redoc/",
    "/api/v1/scores/",
    "/healthz",
]


@pytest.mark.parametrize("url", PAGES)
def test_every_page_carries_the_security_headers(client, charlie, url):
    client.force_login(charlie)
    response = client.get(url)
    csp = response["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    # Patient pages send no Referer at all (their links carried a token); the rest only to the registry itself.
    assert response["Referrer-Policy"] == ("no-referrer" if url.startswith("/p/") else "same-origin")
    assert "camera=()" in response["Permissions-Policy"]


def test_pages_served_under_the_csp_have_no_inline_scripts(client, charlie):
    client.force_login(charlie)
    for url in ("/admin/", "/admin/registry/patient/add/", "/api/v1/docs/", "/api/v1/redoc/", "/p/q/"):
        body = client.get(url).content.decode()
        for chunk in body.split("<script")[1:]:
            tag = chunk.split(">", 1)[0]
            assert "src=" in tag or 'type="application/json"' in tag, f"inline script on {url}: <script{tag}>"


def test_repeated_failed_logins_lock_the_account_for_that_address(client, alice):
    for _ in range(4):
        response = client.post("/admin/login/", {"username": "alice", "password": "wrong-password-x"})
        assert response.status_code == 200 and "correct username and password" in response.content.decode()
    assert client.post("/admin/login/", {"username": "alice", "password": "wrong-password-x"}).status_code == 429
    locked = client.post("/admin/login/", {"username": "alice", "password": "a-long-test-password"})
    assert locked.status_code == 429 and "Too many failed logins" in locked.content.decode()
    other = Client(REMOTE_ADDR="10.9.8.7")
    ok = other.post("/admin/login/", {"username": "alice", "password": "a-long-test-password"})
    assert ok.status_code == 302  # another address is not locked out


def test_a_successful_login_resets_the_failure_count(client, alice):
    for _ in range(3):
        client.post("/admin/login/", {"username": "alice", "password": "nope-nope-nope"})
    assert client.post("/admin/login/", {"username": "alice", "password": "a-long-test-password"}).status_code == 302
    client.logout()
    for _ in range(3):
        client.post("/admin/login/", {"username": "alice", "password": "nope-nope-nope"})
    assert client.post("/admin/login/", {"username": "alice", "password": "a-long-test-password"}).status_code == 302


def test_staff_sessions_end_after_idle_time(client, alice, settings):
    from django.conf import settings as live

    assert live.SESSION_SAVE_EVERY_REQUEST and live.SESSION_COOKIE_AGE <= 3600
    client.force_login(alice)
    response = client.get("/admin/")
    assert response.cookies["sessionid"]["max-age"] == live.SESSION_COOKIE_AGE  # renewed on every request
    assert response.cookies["sessionid"]["httponly"]


def test_weak_passwords_are_refused():
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    for weak in ("password123", "short", "12345678901234", "alice-alice"):
        with pytest.raises(ValidationError):
            validate_password(weak)
    validate_password("correct horse battery staple 42")


@override_settings(PATIENT_RATE_LIMIT=50)
def test_thousands_of_random_tokens_are_throttled_and_never_open_a_questionnaire(client):
    from outcomes.models import AccessToken

    statuses: dict[int, int] = {}
    # One minute of the limiter's clock, however long the 2,000 requests take on a busy machine.
    with time_machine.travel(datetime(2026, 11, 21, 12, 0, 30, tzinfo=UTC), tick=False):
        for _ in range(2000):
            status = client.get(f"/p/{secrets.token_urlsafe(32)}/").status_code
            statuses[status] = statuses.get(status, 0) + 1
    assert set(statuses) == {404, 429}
    assert statuses[404] == 50 and statuses[429] == 1950  # slowed to the limit per minute
    assert "patient_token" not in client.session
    assert not AccessToken.objects.exists()


def test_tokens_are_scrubbed_from_log_lines():
    token = secrets.token_urlsafe(32)
    assert scrub(f'"GET /p/{token}/ HTTP/1.1" 404') == '"GET /p/[redacted]/ HTTP/1.1" 404'
    assert scrub(f"Not Found: /p/optout/{token}/") == "Not Found: /p/optout/[redacted]/"
    assert scrub("GET /p/q/2/ HTTP/1.1") == "GET /p/q/2/ HTTP/1.1"
    record = logging.LogRecord("django.request", logging.WARNING, __file__, 1, "Not Found: %s", (f"/p/{token}/",), None)
    ScrubTokensFilter().filter(record)
    assert token not in record.getMessage()


def test_the_request_log_never_shows_a_token(client, capsys):
    token = secrets.token_urlsafe(32)
    logger = logging.getLogger("django.request")
    handler = logging.StreamHandler()
    handler.addFilter(ScrubTokensFilter())
    logger.addHandler(handler)
    old = logger.level
    logger.setLevel(logging.WARNING)
    try:
        client.get(f"/p/{token}/")
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old)
    captured = capsys.readouterr()
    assert "/p/[redacted]/" in captured.err and token not in captured.err


def test_gunicorn_access_log_atoms_are_scrubbed():
    from types import SimpleNamespace

    from gunicorn.config import Config

    token = secrets.token_urlsafe(32)
    log = GunicornScrubbingLogger(Config())
    req = SimpleNamespace(headers=[], method="GET", uri=f"/p/{token}/", path=f"/p/{token}/", query="", version=(1, 1))
    resp = SimpleNamespace(status="404 Not Found", headers=[], sent=10, response_length=10)
    environ = {
        "REMOTE_ADDR": "127.0.0.1",
        "REQUEST_METHOD": "GET",
        "RAW_URI": f"/p/{token}/",
        "PATH_INFO": f"/p/{token}/",
        "QUERY_STRING": "",
        "SERVER_PROTOCOL": "HTTP/1.1",
    }
    from datetime import timedelta

    atoms = log.atoms(resp, req, environ, timedelta(seconds=0.01))
    assert token not in " ".join(str(v) for v in atoms.values())
