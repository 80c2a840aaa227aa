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


def demo_keys() -> tuple[str, str]:
    """The rows key and the summary key that demo_users prints, in that order, each under the line saying what
    it reads."""
    out = io.StringIO()
    with override_settings(DEBUG=True):
        call_command("demo_users", stdout=out)
    text = out.getvalue()
    assert "rows tier (the row-level datasets" in text and "summary tier (summaries with cell-key perturbation" in text
    rows, summary = re.findall(r"^\s+(rk_\S+)$", text, re.MULTILINE)
    return rows, summary


def demo_key() -> str:
    return demo_keys()[0]


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
    assert ApiKey.objects.filter(revoked_at__isnull=True).count() == 2  # one of each tier


def test_the_demo_prints_a_summary_key_that_reads_summaries_but_not_rows(client):
    call_command("seed_demo", "--patients", "12", "--seed", "3", "--as-of", "2025-06-01", stdout=io.StringIO())
    _rows, summary = demo_keys()
    api = ApiClient(client, summary)
    refused = api.get("/api/v1/scores/", instrument="koos")
    assert refused.status_code == 403 and refused.json()["tier"] == "summary"
    body = api.json("/api/v1/summaries/scores/", instrument="koos", key="pain")
    assert body["disclosure_control"]["method"].startswith("cell-key perturbation")
