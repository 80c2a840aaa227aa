"""Optional TOTP two-factor authentication for staff."""

from __future__ import annotations

import pytest
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/"
PASSWORD = "a-long-test-password"


def code(device: TOTPDevice, drift: int = 0) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = totp.time + drift * device.step
    return f"{totp.token():06d}"


def test_without_a_device_the_password_is_enough(client, alice):
    assert client.post(LOGIN, {"username": "alice", "password": PASSWORD}).status_code == 302


def test_enrolment_then_every_login_needs_the_code(client, alice):
    client.force_login(alice)
    page = client.get("/admin/account/two-factor/")
    assert (
        page.status_code == 200
        and "<svg" in page.content.decode()
        and "is <strong>off</strong>" in page.content.decode()
    )
    device = TOTPDevice.objects.get(user=alice, confirmed=False)
    assert (
        "not valid"
        in client.post(
            "/admin/account/two-factor/", {"token": "000000" if code(device) != "000000" else "111111"}
        ).content.decode()
    )
    device.refresh_from_db()
    device.throttle_reset()  # django-otp slows down guessing after a wrong code; this test is not guessing
    done = client.post("/admin/account/two-factor/", {"token": code(device)})
    assert "is <strong>on</strong>" in done.content.decode()
    device.refresh_from_db()
    assert device.confirmed
    client.logout()

    refused = client.post(LOGIN, {"username": "alice", "password": PASSWORD})
    assert refused.status_code == 200 and "6-digit code" in refused.content.decode()
    wrong = client.post(LOGIN, {"username": "alice", "password": PASSWORD, "otp_token": "12345"})
    assert wrong.status_code == 200
    device.refresh_from_db()
    device.throttle_reset()
    ok = client.post(LOGIN, {"username": "alice", "password": PASSWORD, "otp_token": code(device, drift=1)})
    assert ok.status_code == 302
    assert client.get("/admin/").status_code == 200


def test_the_login_page_offers_the_code_field(client):
    body = client.get(LOGIN).content.decode()
    assert 'name="otp_token"' in body and 'autocomplete="one-time-code"' in body


def test_switching_off_needs_a_valid_code(client, alice):
    device = TOTPDevice.objects.create(user=alice, name="phone", confirmed=True)
    client.force_login(alice)
    assert "not valid" in client.post("/admin/account/two-factor/", {"token": "99999999"}).content.decode()
    assert TOTPDevice.objects.filter(user=alice).exists()
    device.refresh_from_db()
    device.throttle_reset()
    client.post("/admin/account/two-factor/", {"token": code(device)})
    assert not TOTPDevice.objects.filter(user=alice).exists()
