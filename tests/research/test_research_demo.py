"""The demo: demo_users prints a researcher key that streams the KOOS scores as CSV; a rerun replaces it."""

from __future__ import annotations

import csv
import io
import re

import pytest
from django.core.management import call_command
from django.test import override_settings

from research.models import ApiKey
from tests.research.conftest import ApiClient

pytestmark = pytest.mark.django_db


def demo_key() -> str:
    out = io.StringIO()
    with override_settings(DEBUG=True):
        call_command("demo_users", stdout=out)
    return re.search(r"^\s+(rk_\S+)$", out.getvalue(), re.MULTILINE).group(1)


def test_the_demo_key_streams_tidy_koos_scores_and_a_rerun_replaces_it(client):
    call_command("seed_demo", "--patients", "12", "--seed", "3", "--as-of", "2025-06-01", stdout=io.StringIO())
    first = demo_key()
    rows = list(csv.DictReader(io.StringIO(ApiClient(client, first).csv_text("/api/v1/scores/", instrument="koos"))))
    assert rows and {r["instrument"] for r in rows} == {"koos"}
    assert {r["site"] for r in rows} <= {"HRJ", "SRO"}
    second = demo_key()
    assert second != first
    assert ApiClient(client, first).get("/api/v1/scores/").status_code == 401
    assert ApiClient(client, second).get("/api/v1/scores/").status_code == 200
    assert ApiKey.objects.filter(revoked_at__isnull=True).count() == 1
