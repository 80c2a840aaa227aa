"""The researchers' Bulk Data $export: asynchronous kick-off, status polling, NDJSON per resource type, the research
release rules (key's sites, consent, withdrawal, done treatments), pseudonyms and days from index only."""

from __future__ import annotations

import json
import tracemalloc

import pytest
from django.test import Client

from interop import services, tasks
from interop.models import BulkExport
from outcomes.models import Score
from registry.models import ReleasePolicy
from tests.interop.conftest import bulk_export, validate
from tests.research.conftest import cohort, episode_id, key_a, key_ab, subject_id  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db


def test_export_holds_pseudonymous_patients_and_observations_with_relative_days(cohort, key_ab):  # noqa: F811
    files = bulk_export(Client(), key_ab)
    assert set(files) == {"Patient", "Observation"}
    for resources in files.values():
        for resource in resources:
            validate(resource)
    patients = {p["id"] for p in files["Patient"]}
    assert patients == {subject_id(p) for p in cohort.patients}  # never the excluded two
    assert all(set(p) == {"resourceType", "id", "identifier"} for p in files["Patient"])
    observations = files["Observation"]
    assert len(observations) == Score.objects.filter(follow_up__episode__patient__in=cohort.patients).count()
    assert {o["subject"]["reference"].removeprefix("Patient/") for o in observations} <= patients
    assert not any("effectiveDateTime" in o or "effectivePeriod" in o for o in observations)
    first = episode_id(cohort.episodes[0])
    pain = next(
        o
        for o in observations
        if o["code"]["coding"][-1]["code"] == "koos.pain"
        and any(e.get("valueCode") == "m12" for e in o["extension"])
        and any(e.get("valueString") == first for e in o["extension"])
    )
    days = next(e["valueInteger"] for e in pain["extension"] if e["url"].endswith("days-from-index"))
    assert days == cohort.episodes[0].follow_ups.get(timepoint="m12").days_from_index
    assert pain["valueQuantity"]["value"] == pytest.approx(72.2222222)


def test_a_key_for_site_a_exports_nothing_of_site_b(cohort, key_a):  # noqa: F811
    files = bulk_export(Client(), key_a, _type="Patient")
    assert set(files) == {"Patient"}
    assert {p["id"] for p in files["Patient"]} == {subject_id(p) for p in cohort.patients if p.site.code == "SITEA"}


def test_a_site_under_k_is_withheld_from_the_export(cohort, key_ab, site_b):  # noqa: F811
    ReleasePolicy.objects.filter(site=site_b).update(k=5)  # site B's two subjects are fewer than k (research/kanon.py)
    files = bulk_export(Client(), key_ab)
    assert {p["id"] for p in files["Patient"]} == {subject_id(p) for p in cohort.patients if p.site.code == "SITEA"}
    withheld = {episode_id(e) for e in cohort.episodes if e.patient.site.code == "SITEB"}
    episodes = {e.get("valueString") for o in files["Observation"] for e in o["extension"]}
    assert withheld and episodes and not withheld & episodes


def test_one_release_decides_every_file_of_an_export(cohort, key_ab, site_b, monkeypatch):  # noqa: F811
    """k-anonymity is decided once an export, over the key's whole cohort, and both files follow it: a subject is
    in the Patient file exactly when one of its scores is in the Observation file's references."""
    from research import kanon

    ReleasePolicy.objects.filter(site=site_b).update(k=5)
    computed = []
    real = kanon.compute
    monkeypatch.setattr(kanon, "compute", lambda *a, **kw: computed.append(1) or real(*a, **kw))
    files = bulk_export(Client(), key_ab)
    assert len(computed) == 1
    patients = {p["id"] for p in files["Patient"]}
    assert patients == {o["subject"]["reference"].removeprefix("Patient/") for o in files["Observation"]}


def test_kickoff_queues_the_task_and_refuses_what_it_cannot_do(key_ab, django_capture_on_commit_callbacks):  # noqa: F811
    client = Client()
    auth = {"Authorization": f"Bearer {key_ab}"}
    with django_capture_on_commit_callbacks() as queued:
        assert client.get("/fhir/$export", headers={**auth, "Prefer": "respond-async"}).status_code == 202
    assert len(queued) == 1
    refused = [
        client.get("/fhir/$export", headers=auth),  # not asynchronous
        client.get("/fhir/$export", {"_type": "Condition"}, headers={**auth, "Prefer": "respond-async"}),
        client.get("/fhir/$export", {"_since": "2020-01-01"}, headers={**auth, "Prefer": "respond-async"}),
        client.get("/fhir/$export", {"_outputFormat": "csv"}, headers={**auth, "Prefer": "respond-async"}),
    ]
    for response in refused:
        assert response.status_code == 400
        validate(response.json())
    assert client.get("/fhir/$export", headers={"Prefer": "respond-async"}).status_code == 401
    for _ in range(services.EXPORTS_IN_PROGRESS_MAX - 1):
        assert client.get("/fhir/$export", headers={**auth, "Prefer": "respond-async"}).status_code == 202
    busy = client.get("/fhir/$export", headers={**auth, "Prefer": "respond-async"})
    assert busy.status_code == 429
    validate(busy.json())


def test_an_export_is_the_keys_own(cohort, key_a, key_ab):  # noqa: F811
    client = Client()
    kickoff = client.get("/fhir/$export", headers={"Authorization": f"Bearer {key_a}", "Prefer": "respond-async"})
    status_url = kickoff["Content-Location"]
    export_id = status_url.rsplit("/", 1)[1]
    tasks.build_bulk_export(export_id)
    other = {"Authorization": f"Bearer {key_ab}"}
    assert client.get(status_url, headers=other).status_code == 404
    assert client.get(f"/fhir/$export-files/{export_id}/Patient.ndjson", headers=other).status_code == 404
    own = {"Authorization": f"Token {key_a}"}
    assert client.get(status_url, headers=own).status_code == 200
    assert client.delete(status_url, headers=own).status_code == 202
    assert not BulkExport.objects.exists()
    assert client.get(status_url, headers=own).status_code == 404


def test_the_export_streams_in_constant_memory(cohort, key_ab, monkeypatch):  # noqa: F811
    """Four times the rows, not four times the memory: rows are read in chunks and written as they come (about 3 s:
    tracemalloc slows every allocation)."""
    monkeypatch.setattr(services, "ITERATOR_CHUNK", 200)
    follow_up = cohort.episodes[0].follow_ups.get(timepoint="m12")
    from research.models import ApiKey

    key = ApiKey.objects.get(name="Study at A and B")

    def peak(extra: int) -> int:
        Score.objects.filter(key__startswith="bulk").delete()
        Score.objects.bulk_create(
            Score.build(follow_up, instrument="vas", key=f"bulk{n}", value=n, scoring_version="1.0")
            for n in range(extra)
        )
        export = services.bulk_export_start(key=key, request_url="/fhir/$export", types=["Observation"])
        tracemalloc.start()
        services.bulk_export_build(export_id=str(export.pk))
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        lines = services.export_file(export, "Observation").read_text().splitlines()
        assert len(lines) >= extra and json.loads(lines[-1])["resourceType"] == "Observation"
        return top

    small, large = peak(400), peak(1600)
    assert large < small * 1.6, (small, large)
