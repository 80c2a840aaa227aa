"""The client's address behind proxies (registry.client_ip): the rule itself, then what keys on it, the login
lockout, axes' records of attempts and logins, the patient pages' rate limit and gunicorn's access log.

By default (REGISTRY_TRUSTED_PROXIES=0) X-Forwarded-For is never read, so a forged one dodges nothing. With N
trusted proxies the address is the N-th entry of X-Forwarded-For from the right, the one the outermost trusted
proxy appended; whatever the client wrote to its left is ignored.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
import time_machine
from axes.models import AccessAttempt, AccessLog
from django.conf import settings
from django.test import Client, override_settings

from registry.client_ip import client_ip_from_meta

PROXY = "172.18.0.3"  # the TLS proxy, as gunicorn sees it on the compose network
PATIENT = "198.51.100.7"
OTHER_PATIENT = "198.51.100.8"
CDN = "203.0.113.50"


def _meta(forwarded: str | None = None, remote: str = PROXY) -> dict[str, str]:
    meta = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    return meta


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        # No trusted proxy (the default): the connection's address, the header never read.
        (0, None, PROXY),
        (0, PATIENT, PROXY),
        (0, f"6.6.6.6, {PATIENT}", PROXY),
        (0, f"6.6.6.6, {PATIENT}, {CDN}", PROXY),
        # One proxy (the TLS proxy): the right-most entry, the one it appended.
        (1, None, PROXY),
        (1, PATIENT, PATIENT),
        (1, f"6.6.6.6, {PATIENT}", PATIENT),  # a forged left-most entry changes nothing
        (1, f"6.6.6.6,7.7.7.7 ,  {PATIENT}", PATIENT),
        (1, f"not-an-address, {PATIENT}", PATIENT),
        # Two proxies (a CDN, then the TLS proxy): the right-most but one, the one the CDN appended.
        (2, f"{PATIENT}, {CDN}", PATIENT),
        (2, f"6.6.6.6, {PATIENT}, {CDN}", PATIENT),
        (2, None, PROXY),
        (2, PATIENT, PROXY),  # one entry: it did not pass both proxies, nothing in it can be trusted
        # What a trusted proxy wrote is not an address: the connection's address.
        (1, "unknown", PROXY),
        (1, f"{PATIENT}, ", PROXY),
        (1, "", PROXY),
    ],
)
def test_the_client_is_the_entry_the_outermost_trusted_proxy_wrote(proxies, forwarded, expected):
    assert client_ip_from_meta(_meta(forwarded), trusted_proxies=proxies) == expected


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("198.51.100.7:51234", PATIENT),
        ("[2001:db8::7]:443", "2001:db8::7"),
        ("2001:DB8:0:0::7", "2001:db8::7"),
        ("::ffff:198.51.100.7", PATIENT),  # the same client over IPv4-mapped IPv6 is one address, not two
    ],
)
def test_one_client_is_one_address_however_the_proxy_spells_it(written, expected):
    assert client_ip_from_meta(_meta(f"6.6.6.6, {written}"), trusted_proxies=1) == expected


def test_by_default_no_proxy_is_trusted():
    assert settings.REGISTRY_TRUSTED_PROXIES == 0
    assert client_ip_from_meta(_meta(PATIENT)) == PROXY
    # DRF's own address rule (any throttle keyed on an address) is given the same count, never None (which would
    # trust X-Forwarded-For as sent).
    assert settings.REST_FRAMEWORK["NUM_PROXIES"] == 0
    assert settings.AXES_CLIENT_IP_CALLABLE == "registry.client_ip.client_ip"


# The login lockout ----------------------------------------------------------------------------------------------
def _fail(client: Client, forwarded: str | None = None) -> int:
    extra = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded else {}
    return client.post("/admin/login/", {"username": "alice", "password": "wrong-password-x"}, **extra).status_code


def _log_in(client: Client, forwarded: str | None = None) -> int:
    extra = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded else {}
    return client.post("/admin/login/", {"username": "alice", "password": "a-long-test-password"}, **extra).status_code


@pytest.mark.django_db
def test_a_forged_forwarded_for_does_not_dodge_the_login_lockout_by_default(alice):
    client = Client(REMOTE_ADDR=PATIENT)
    assert [_fail(client, f"10.0.0.{i}") for i in range(1, 6)] == [200, 200, 200, 200, 429]
    assert _log_in(client, "10.0.0.99") == 429  # a new made-up address: still the same client, still locked
    # One record, at the connection's address; the refused login while locked counts as a sixth failure.
    assert list(AccessAttempt.objects.values_list("ip_address", "failures_since_start")) == [(PATIENT, 6)]


@pytest.mark.django_db
@override_settings(REGISTRY_TRUSTED_PROXIES=1)
def test_behind_one_proxy_each_client_is_locked_out_alone(alice):
    through_proxy = Client(REMOTE_ADDR=PROXY)
    # A guesser who writes a new left-most entry each time is still one client, and locked out.
    assert [_fail(through_proxy, f"6.6.6.{i}, {PATIENT}") for i in range(1, 6)] == [200, 200, 200, 200, 429]
    assert _log_in(through_proxy, f"6.6.6.99, {PATIENT}") == 429
    assert list(AccessAttempt.objects.values_list("ip_address", "failures_since_start")) == [(PATIENT, 6)]
    # Alice at another address, through the same proxy, logs in; the access log records her address.
    assert _log_in(through_proxy, OTHER_PATIENT) == 302
    assert list(AccessLog.objects.values_list("username", "ip_address")) == [("alice", OTHER_PATIENT)]


# The patient pages' rate limit ----------------------------------------------------------------------------------
def _patient_page(client: Client, forwarded: str | None = None) -> int:
    extra = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded else {}
    return client.get(f"/p/{secrets.token_urlsafe(32)}/", **extra).status_code


@pytest.mark.django_db
@override_settings(PATIENT_RATE_LIMIT=3)
def test_a_forged_forwarded_for_does_not_dodge_the_patient_rate_limit_by_default():
    client = Client(REMOTE_ADDR=PATIENT)
    with time_machine.travel(datetime(2026, 11, 21, 12, 0, 10, tzinfo=UTC), tick=False):
        statuses = [_patient_page(client, f"10.0.0.{i}") for i in range(1, 6)]
    assert statuses == [404, 404, 404, 429, 429]


@pytest.mark.django_db
@override_settings(PATIENT_RATE_LIMIT=3, REGISTRY_TRUSTED_PROXIES=1)
def test_two_patients_behind_one_proxy_are_limited_separately():
    through_proxy = Client(REMOTE_ADDR=PROXY)
    with time_machine.travel(datetime(2026, 11, 21, 12, 0, 10, tzinfo=UTC), tick=False):
        first = [_patient_page(through_proxy, f"6.6.6.{i}, {PATIENT}") for i in range(1, 6)]
        second = [_patient_page(through_proxy, OTHER_PATIENT) for _ in range(3)]
    assert first == [404, 404, 404, 429, 429]  # forged left-most entries: still one patient
    assert second == [404, 404, 404]  # not slowed by the first patient's requests


# gunicorn's access log ------------------------------------------------------------------------------------------
def _access_log_address(forwarded: str) -> str:
    from gunicorn.config import Config

    from project.logscrub import GunicornScrubbingLogger

    log = GunicornScrubbingLogger(Config())
    req = SimpleNamespace(headers=[], method="GET", uri="/healthz", path="/healthz", query="", version=(1, 1))
    resp = SimpleNamespace(status="200 OK", headers=[], sent=2, response_length=2)
    environ = {
        "REMOTE_ADDR": PROXY,
        "HTTP_X_FORWARDED_FOR": forwarded,
        "REQUEST_METHOD": "GET",
        "RAW_URI": "/healthz",
        "PATH_INFO": "/healthz",
        "QUERY_STRING": "",
        "SERVER_PROTOCOL": "HTTP/1.1",
    }
    return log.atoms(resp, req, environ, timedelta(seconds=0.01))["h"]


def test_the_access_log_names_the_client_behind_the_proxy():
    assert _access_log_address(f"6.6.6.6, {PATIENT}") == PROXY
    with override_settings(REGISTRY_TRUSTED_PROXIES=1):
        assert _access_log_address(f"6.6.6.6, {PATIENT}") == PATIENT
