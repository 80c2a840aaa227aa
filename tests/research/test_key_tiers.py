"""Key tiers: a summary key reads aggregates only (403 naming its tier on every row endpoint, CSV and labelled
files and FHIR $export included); a rows key reads everything; every row-level request is logged without the
key; the log is read-only in the admin; keys that existed before the tiers keep row-level access."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps
from django.urls import reverse

from research.models import ApiKey, RowRequest
from research.services import api_key_create
from tests.research.conftest import (
    ApiClient,
    add_scores,
    make_episode,
    make_patient,
    release_at_small_k,
    second_subject,
)

pytestmark = pytest.mark.django_db

ROW_REQUESTS = [
    ("/api/v1/treatments/", {}),
    ("/api/v1/treatments/", {"format": "csv"}),
    ("/api/v1/treatments/", {"format": "sav"}),
    ("/api/v1/treatments/", {"format": "dta"}),
    ("/api/v1/treatments/E-0000000000/", {}),
    ("/api/v1/administrations/", {}),
    ("/api/v1/scores/", {"instrument": "koos"}),
    ("/api/v1/scores/", {"format": "csv"}),
    ("/api/v1/scores/wide/", {}),
    ("/api/v1/scores/wide/", {"format": "csv"}),
    ("/api/v1/adverse-events/", {}),
    ("/api/v1/surgeries/", {"format": "csv"}),
]
AGGREGATE_REQUESTS = [
    ("/api/v1/summaries/scores/", {"instrument": "koos", "key": "pain"}),
    ("/api/v1/summaries/arthroplasty/", {}),
    ("/api/v1/dictionary/", {}),
    ("/api/v1/dictionary/", {"format": "csv"}),
    ("/api/v1/datapackage/", {}),
]


@pytest.fixture
def one_episode(site_a):
    second_subject(site_a)  # a site's rows are released from k subjects (k=2 here)
    episode = make_episode(make_patient(site_a))
    add_scores(episode, "baseline", "koos", {"pain": 50.0})
    return episode


def _keys(site_a) -> tuple[ApiClient, ApiClient, str, str]:
    from django.test import Client

    release_at_small_k(site_a)
    summary_raw = api_key_create(name="summary", sites=[site_a])[1]  # the default tier
    rows_raw = api_key_create(name="rows", sites=[site_a], tier="rows")[1]
    return ApiClient(Client(), summary_raw), ApiClient(Client(), rows_raw), summary_raw, rows_raw


def test_a_new_key_is_summary_tier_unless_rows_is_asked_for(site_a):
    assert api_key_create(name="s", sites=[site_a])[0].tier == "summary"
    assert api_key_create(name="r", sites=[site_a], tier="rows")[0].tier == "rows"
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="Unknown tier"):
        api_key_create(name="x", sites=[site_a], tier="everything")


def test_a_summary_key_gets_403_naming_its_tier_on_every_row_endpoint(site_a, one_episode):
    summary, _rows, _, _ = _keys(site_a)
    for path, params in ROW_REQUESTS:
        response = summary.get(path, **params)
        assert response.status_code == 403, (path, params, response.content[:300])
        assert response["Content-Type"].startswith("application/json")
        body = response.json()
        assert body["tier"] == "summary"
        assert "/api/v1/summaries/scores/" in body["may_read"] and "/api/v1/treatments/" not in body["may_read"]
        assert "'summary' tier" in body["detail"] and "rows" in body["detail"]


def test_a_summary_key_reads_the_summaries_dictionary_and_data_package(site_a, one_episode):
    summary, _rows, _, _ = _keys(site_a)
    for path, params in AGGREGATE_REQUESTS:
        assert summary.get(path, **params).status_code == 200, (path, params)
    body = summary.json("/api/v1/summaries/scores/", instrument="koos", key="pain")
    assert body["disclosure_control"]["method"].startswith("cell-key perturbation (ABS TableBuilder)")


def test_a_rows_key_reads_everything_and_its_summaries_are_exact(site_a, one_episode):
    _summary, rows, _, _ = _keys(site_a)
    for path, params in [*ROW_REQUESTS, *AGGREGATE_REQUESTS]:
        if "E-0000000000" in path:
            assert rows.get(path, **params).status_code == 404  # no such episode, but not refused
            continue
        assert rows.get(path, **params).status_code == 200, (path, params)
    body = rows.json("/api/v1/summaries/scores/", instrument="koos", key="pain")
    assert body["disclosure_control"] == {"method": "none: row-level key (exact figures)"}


def test_row_requests_are_logged_without_the_key_and_summaries_are_not(site_a, one_episode):
    summary, rows, summary_raw, rows_raw = _keys(site_a)
    rows.get("/api/v1/treatments/", page_size=5)
    rows.get("/api/v1/scores/", format="csv", instrument="koos")
    rows.get("/api/v1/summaries/scores/", instrument="koos", key="pain")
    rows.get("/api/v1/dictionary/")
    summary.get("/api/v1/summaries/scores/", instrument="koos", key="pain")
    summary.get("/api/v1/treatments/")
    rows.get("/api/v1/treatments/", note=rows_raw)  # a key pasted into the query (400: unknown parameter)
    logged = list(RowRequest.objects.order_by("id").values_list("key__tier", "path", "query", "status", "rows"))
    assert logged == [
        ("rows", "/api/v1/treatments/", "page_size=5", 200, 2),
        ("rows", "/api/v1/scores/", "format=csv&instrument=koos", 200, None),
        ("summary", "/api/v1/treatments/", "", 403, None),
        ("rows", "/api/v1/treatments/", "note=rk_***", 400, None),
    ]
    for row in RowRequest.objects.all():
        for value in (row.path, row.query, row.method):
            assert rows_raw not in value and summary_raw not in value and rows_raw[3:] not in value


def test_fhir_bulk_export_needs_the_rows_tier_and_is_logged(client, site_a, one_episode):
    _summary, _rows, summary_raw, rows_raw = _keys(site_a)
    headers = {"Prefer": "respond-async"}
    refused = client.get("/fhir/$export", headers={**headers, "Authorization": f"Bearer {summary_raw}"})
    assert refused.status_code == 403
    outcome = refused.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert "'summary' tier" in outcome["issue"][0]["diagnostics"]
    accepted = client.get("/fhir/$export", headers={**headers, "Authorization": f"Bearer {rows_raw}"})
    assert accepted.status_code == 202
    assert list(RowRequest.objects.order_by("id").values_list("key__tier", "path", "status")) == [
        ("summary", "/fhir/$export", 403),
        ("rows", "/fhir/$export", 202),
    ]


def test_the_admin_chooses_the_tier_lists_it_and_the_request_log_is_read_only(charlie_client, site_a, one_episode):
    response = charlie_client.post(
        reverse("admin:research_apikey_add"),
        {"name": "Aggregates study", "tier": "summary", "sites": [site_a.pk], "expires_at_0": ""},
    )
    assert response.status_code == 200
    assert ApiKey.objects.get(name="Aggregates study").tier == "summary"
    listing = charlie_client.get(reverse("admin:research_apikey_changelist")).content.decode()
    assert "summary: aggregates only" in listing
    _summary, rows, _, _ = _keys(site_a)
    rows.get("/api/v1/treatments/")
    logged = RowRequest.objects.get()
    assert charlie_client.get(reverse("admin:research_rowrequest_changelist")).status_code == 200
    assert charlie_client.get(reverse("admin:research_rowrequest_add")).status_code == 403
    change = reverse("admin:research_rowrequest_change", args=[logged.pk])
    assert charlie_client.post(change, {"status": 200}).status_code == 403
    assert charlie_client.post(reverse("admin:research_rowrequest_delete", args=[logged.pk])).status_code == 403
    assert RowRequest.objects.get().status == 200


def test_migration_0004_gives_every_existing_key_the_rows_tier(site_a):
    old = [api_key_create(name=f"old {n}", sites=[site_a])[0] for n in range(3)]
    assert {k.tier for k in old} == {"summary"}  # what 0003's default gives them
    migration = importlib.import_module("research.migrations.0004_existing_keys_rows")

    class Editor:
        class connection:  # noqa: N801 - the shape of a schema editor's connection
            alias = "default"

    migration.existing_keys_read_rows(apps, Editor())
    assert set(ApiKey.objects.values_list("tier", flat=True)) == {"rows"}
