"""FHIR fixtures: a validator that checks every emitted resource with fhir.resources (R4B models, R4's resources),
knee episodes with open follow-ups at site A, and the integration keys of sites A and B."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from fhir.resources.R4B import get_fhir_model_class

from interop.services import integration_key_create
from tests import factories


def validate(resource: dict[str, Any]) -> Any:
    """The resource parsed by fhir.resources (raises on anything R4 refuses); a Bundle's entries one by one too."""
    model = get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    if resource["resourceType"] == "Bundle":
        for entry in resource.get("entry", []):
            validate(entry["resource"])
    return model


def koos_answers(value: int = 1) -> dict[str, int]:
    import scoring

    return {item.code: value for item in scoring.get_instrument("koos").items}


@pytest.fixture
def knees(patient_a):
    """Bilateral knees treated 100 days ago: each has an open 3-month follow-up owing KOOS."""
    index = date.today() - timedelta(days=100)
    left = factories.EpisodeFactory(patient=patient_a, joint="knee", side="left", index_date=index)
    right = factories.EpisodeFactory(patient=patient_a, joint="knee", side="right", index_date=index)
    return left.follow_ups.get(timepoint="m3"), right.follow_ups.get(timepoint="m3")


@pytest.fixture
def key_a(site_a):
    return integration_key_create(name="HIS of site A", site=site_a)


@pytest.fixture
def key_b(site_b):
    return integration_key_create(name="HIS of site B", site=site_b)


def bearer(raw: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {raw}"}


def bulk_export(client: Any, raw_key: str, **params: str) -> dict[str, list[dict[str, Any]]]:
    """A whole Bulk Data export as a client runs it: kick-off (202, Content-Location), a poll while it is built
    (202), the worker's task, the manifest (200), then every NDJSON file: resource type -> its resources."""
    import json

    from interop import tasks

    headers = {"Authorization": f"Bearer {raw_key}", "Prefer": "respond-async", "Accept": "application/fhir+json"}
    kickoff = client.get("/fhir/$export", params, headers=headers)
    assert kickoff.status_code == 202, kickoff.content
    status_url = kickoff["Content-Location"]
    assert client.get(status_url, headers=headers).status_code == 202
    tasks.build_bulk_export(status_url.rsplit("/", 1)[1])
    manifest = client.get(status_url, headers=headers)
    assert manifest.status_code == 200, manifest.content
    out: dict[str, list[dict[str, Any]]] = {}
    for entry in manifest.json()["output"]:
        response = client.get(entry["url"], headers=headers)
        assert response.status_code == 200 and response["Content-Type"] == "application/fhir+ndjson"
        lines = b"".join(response.streaming_content).decode().splitlines()
        assert len(lines) == entry["count"]
        out[entry["type"]] = [json.loads(line) for line in lines]
    return out
