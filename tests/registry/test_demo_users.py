"""manage.py demo_users: the demo's logins, one per role, only in debug mode."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.db import transaction
from django.test import Client, override_settings
from django.urls import reverse

from project.management.commands.demo_users import DEMO_USERS
from registry.models import Membership, Patient, Site
from research.models import ApiKey
from research.services import api_key_create

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
PASSWORDS = {username: password for username, password, _ in DEMO_USERS}


def demo_users() -> str:
    out = io.StringIO()
    with override_settings(DEBUG=True):
        call_command("demo_users", stdout=out)
    return out.getvalue()


def admin_login(username: str) -> Client:
    """Log in through the admin's login form, as a person would."""
    client = Client()
    response = client.post(
        reverse("admin:login"), {"username": username, "password": PASSWORDS[username], "next": "/admin/"}
    )
    client.logged_in = response.status_code == 302 and response.url == "/admin/"  # type: ignore[attr-defined]
    return client


def test_it_refuses_without_debug():
    with pytest.raises(CommandError, match="runs only with DEBUG=true"):
        call_command("demo_users", stdout=io.StringIO())
    assert not User.objects.exists()


def test_from_the_command_line_it_exits_non_zero_without_debug(tmp_path):
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DJANGO_SETTINGS_MODULE": "project.test_settings",  # DEBUG is off there
        "REGISTRY_VAR_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "demo_users"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert "demo_users creates logins with published passwords; it runs only with DEBUG=true." in result.stderr


def test_it_needs_the_demo_sites():
    with pytest.raises(CommandError, match="run seed_demo first"):
        demo_users()
    assert not User.objects.exists()


@pytest.fixture(scope="class")
def demo(django_db_setup, django_db_blocker):
    """The demo's data and logins, made once for the tests of the class (each test's changes are rolled back)."""
    with django_db_blocker.unblock(), transaction.atomic():
        call_command("seed_demo", "--patients", "8", "--seed", "1", "--as-of", "2025-06-01", stdout=io.StringIO())
        yield demo_users()
        transaction.set_rollback(True)


@pytest.mark.usefixtures("demo")
class TestDemoLogins:  # with DEBUG on
    def test_it_creates_one_login_per_role(self, demo):
        assert set(User.objects.values_list("username", flat=True)) == set(PASSWORDS)
        admin = User.objects.get(username="admin")
        assert admin.is_superuser and admin.is_staff
        for username, site in [("coord.hrj", "HRJ"), ("coord.sro", "SRO")]:
            user = User.objects.get(username=username)
            assert not user.is_superuser
            assert list(user.memberships.values_list("site__code", "role", "active")) == [(site, "coordinator", True)]
        researcher = User.objects.get(username="researcher")
        assert not (researcher.is_staff or researcher.is_superuser or researcher.memberships.exists())
        for username, password in PASSWORDS.items():
            assert username in demo and password in demo  # the command lists the logins it made

    @pytest.mark.parametrize(("username", "site"), [("coord.hrj", "HRJ"), ("coord.sro", "SRO")])
    def test_a_demo_coordinator_sees_only_their_sites_patients(self, username, site):
        client = admin_login(username)
        assert client.logged_in
        response = client.get(reverse("admin:registry_patient_changelist"))
        assert response.status_code == 200
        shown = {p.pk for p in response.context["cl"].result_list}
        assert shown == set(Patient.objects.filter(site__code=site).values_list("pk", flat=True))
        assert shown and shown != set(Patient.objects.values_list("pk", flat=True))

    def test_the_demo_admin_sees_every_site(self):
        client = admin_login("admin")
        assert client.logged_in
        response = client.get(reverse("admin:registry_patient_changelist"))
        assert {p.pk for p in response.context["cl"].result_list} == set(Patient.objects.values_list("pk", flat=True))
        assert client.get(reverse("admin:auth_user_changelist")).status_code == 200

    def test_the_researcher_cannot_log_into_the_admin(self):
        client = admin_login("researcher")
        assert not client.logged_in
        assert client.get(reverse("admin:index")).status_code == 302  # back to the login page

    def test_running_it_again_duplicates_nothing(self):
        User.objects.filter(username="coord.hrj").update(email="changed@example.test")
        demo_users()
        assert User.objects.count() == len(DEMO_USERS)
        assert Membership.objects.count() == 2
        hrj = User.objects.get(username="coord.hrj")
        assert hrj.email == "coord.hrj@example.test"  # reset to the demo's values
        assert list(hrj.groups.values_list("name", flat=True)) == ["Site coordinator"]
        assert admin_login("coord.hrj").logged_in

    def test_each_research_key_is_named_by_its_tier_and_a_second_run_revokes_the_first(self):
        live = dict(ApiKey.objects.filter(revoked_at__isnull=True).values_list("name", "tier"))
        assert live == {
            "demo researcher, rows tier (HRJ, SRO)": "rows",
            "demo researcher, summary tier (HRJ, SRO)": "summary",
        }
        # A key left by an earlier version of the command, under the one name both tiers had then, goes too.
        api_key_create(name="demo researcher (HRJ, SRO)", sites=list(Site.objects.all()), tier="rows")
        demo_users()
        assert ApiKey.objects.filter(revoked_at__isnull=True).count() == 2
        assert not ApiKey.objects.filter(name="demo researcher (HRJ, SRO)", revoked_at__isnull=True).exists()
