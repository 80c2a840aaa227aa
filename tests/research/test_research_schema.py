"""The OpenAPI schema and its docs, and the data dictionary."""

from __future__ import annotations

import pytest
import yaml

import scoring
from research import deid

pytestmark = pytest.mark.django_db


def test_the_schema_describes_every_research_endpoint_and_its_limits(client):
    response = client.get("/api/v1/schema/")
    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    assert schema["openapi"].startswith("3.")
    paths = schema["paths"]
    for path in (
        "/api/v1/treatments/",
        "/api/v1/treatments/{episode_id}/",
        "/api/v1/administrations/",
        "/api/v1/scores/",
        "/api/v1/scores/wide/",
        "/api/v1/adverse-events/",
        "/api/v1/surgeries/",
        "/api/v1/dictionary/",
        "/api/v1/summaries/scores/",
        "/api/v1/summaries/arthroplasty/",
    ):
        operation = paths[path]["get"]
        assert {"401", "429"} <= set(operation["responses"]), path
    scores = paths["/api/v1/scores/"]["get"]
    assert {"text/csv", "application/json"} <= set(scores["responses"]["200"]["content"])
    names = {p["name"] for p in scores["parameters"]}
    assert {"joint", "product_type", "kl_grade", "dose_min", "timepoint", "instrument", "key", "cursor"} <= names
    assert schema["components"]["securitySchemes"]["tokenAuth"]["name"] == "Authorization"


def test_the_docs_are_browsable(client):
    redoc = client.get("/api/v1/redoc/")
    assert redoc.status_code == 200 and b"/api/v1/schema/" in redoc.content
    # Swagger UI's start-up script is a separate request (no inline script under the CSP); it names the schema.
    swagger = client.get("/api/v1/docs/")
    assert swagger.status_code == 200 and b"/api/v1/docs/?script" in swagger.content
    script = client.get("/api/v1/docs/?script")
    assert script.status_code == 200 and b"/api/v1/schema/" in script.content


def test_the_dictionary_lists_every_column_and_every_instrument(api_a):
    body = api_a.json("/api/v1/dictionary/")
    for name, dataset in deid.DATASETS.items():
        assert [c["name"] for c in body["datasets"][name]["columns"]] == dataset.column_names
    instruments = {i["id"]: i for i in body["instruments"]}
    assert set(instruments) == set(scoring.INSTRUMENTS)
    koos = instruments["koos"]
    assert len(koos["items"]) == len(scoring.INSTRUMENTS["koos"].items)
    pain = next(o for o in koos["outputs"] if o["key"] == "pain")
    assert (pain["min"], pain["max"], pain["direction"], pain["wide_column"]) == (0, 100, "higher_better", "koos_pain")
    assert [t["timepoint"] for t in body["timepoints"]] == ["baseline", "m3", "m6", "m12", "m24"]
    assert any(t["instrument"] == "koos" and "Mostafaee" in t["citation"] for t in body["thresholds"])
    assert body["min_cell_size"] == 11
