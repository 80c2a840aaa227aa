"""The OpenAPI schema states what the research views check, so schemathesis (in .ci/run) explores the valid space;
its hooks read CSV answers as rows of the schema and check them. These tests hold the schema to the views and the
hooks to real exports: a schema looser than a view, a CSV column the schema does not name, or a check that lets a
live formula through fails here, not silently in CI's fuzzing."""

from __future__ import annotations

import json

import pytest

import scoring
from research.api.filters import EpisodeFilterSet
from research.api.serializers import ArthroplastySummaryQuerySerializer
from tests.contract import schemathesis_hooks as hooks
from tests.research.conftest import ApiClient, cohort, key_a  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db

CSV_LISTS = [
    "/api/v1/treatments/",
    "/api/v1/administrations/",
    "/api/v1/scores/",
    "/api/v1/scores/wide/",
    "/api/v1/adverse-events/",
    "/api/v1/surgeries/",
]


@pytest.fixture
def schema(client) -> dict:
    response = client.get("/api/v1/schema/", {"format": "json"})
    assert response.status_code == 200
    return json.loads(response.content)


def _parameter(schema: dict, path: str, name: str) -> dict:
    return next(p for p in schema["paths"][path]["get"]["parameters"] if p["name"] == name)["schema"]


def _enum(raw: dict, prop: dict) -> set | None:
    prop = hooks._resolve(raw, prop)
    if "enum" in prop:
        return set(prop["enum"])
    values: set = set()
    for part in prop.get("oneOf", []) + prop.get("allOf", []):
        found = _enum(raw, part)
        if found is None:
            return None
        values |= found
    return values or None


@pytest.mark.parametrize("path", CSV_LISTS)
def test_every_csv_row_is_what_the_schema_says(schema, client, cohort, key_a, path):  # noqa: F811
    text = ApiClient(client, key_a).csv_text(path)
    rows = hooks.csv_rows(schema, path, text)
    assert rows, f"{path}: the cohort gives rows"
    csv_content = schema["paths"][path]["get"]["responses"]["200"]["content"]["text/csv"]
    row_schema = hooks._resolve(schema, csv_content["schema"]["items"])
    properties = row_schema["properties"]
    header = text.splitlines()[0].split(",")
    assert set(header) <= set(properties), f"{path}: columns the schema does not name: {set(header) - set(properties)}"
    assert set(row_schema["required"]) <= set(header)
    python_types = {"integer": (int,), "number": (int, float), "boolean": (bool,), "string": (str,)}
    for row in rows:
        for name, value in row.items():
            if value is None:
                continue
            types = hooks._types(schema, properties[name])
            allowed = tuple(t for kind in types for t in python_types.get(kind, ()))
            assert isinstance(value, allowed) and not (isinstance(value, bool) and "boolean" not in types), (
                f"{path}: {name}={value!r} is not {types}"
            )
            enum = _enum(schema, properties[name])
            if enum:
                assert value in enum, f"{path}: {name}={value!r} not in {enum}"


def test_the_dictionary_csv_is_rows_of_its_nine_fields(schema, client, key_a):  # noqa: F811
    response = ApiClient(client, key_a).get("/api/v1/dictionary/", format="csv")
    assert response.status_code == 200
    text = response.content.decode()
    rows = hooks.csv_rows(schema, "/api/v1/dictionary/", text)
    assert rows and set(rows[0]) == set(schema["components"]["schemas"]["DictionaryCsvRow"]["properties"])


def test_one_record_offers_no_csv_and_its_options_answer_json(schema, client, cohort, key_a):  # noqa: F811
    detail = schema["paths"]["/api/v1/treatments/{episode_id}/"]["get"]["responses"]["200"]["content"]
    assert list(detail) == ["application/json"]
    episode = ApiClient(client, key_a).get("/api/v1/treatments/").json()["results"][0]["episode_id"]
    options = client.options(f"/api/v1/treatments/{episode}/?format=csv", HTTP_AUTHORIZATION=f"Token {key_a}")
    assert options.status_code == 200 and options["Content-Type"] == "application/json"
    refused = client.get(f"/api/v1/treatments/{episode}/?format=csv", HTTP_AUTHORIZATION=f"Token {key_a}")
    assert refused.status_code == 400


def test_a_live_formula_is_caught_and_a_neutralised_one_is_not():
    rows = [{"site": "'=HYPERLINK(1)", "note": "-3", "day": -3, "reason": "@SUM(A1)"}]
    assert hooks.live_formulas(rows) == ["note: '-3'", "reason: '@SUM(A1)'"]
    assert hooks.live_formulas([{"site": "'=x", "day": -3}]) == []


def test_a_cell_takes_its_column_s_type_and_text_in_a_number_column_stays_text():
    assert hooks._cell("", {"integer"}) is None
    assert hooks._cell("12", {"integer"}) == 12
    assert hooks._cell("12.5", {"number"}) == 12.5
    assert hooks._cell("true", {"boolean"}) is True
    assert hooks._cell("007", {"string"}) == "007"
    assert hooks._cell("twelve", {"integer"}) == "twelve"  # and the schema check then fails on it


def test_a_row_with_a_cell_too_many_is_an_error(schema):
    with pytest.raises(ValueError, match="line 2 has 3 cells under a header of 2"):
        hooks.csv_rows(schema, "/api/v1/treatments/", "subject_id,site\nS-1,A,extra\n")


def test_a_generated_key_is_matched_to_its_instrument_and_a_right_one_kept():
    mapped = hooks.key_of_its_instrument({"instrument": "odi", "key": "pain"})
    assert mapped["key"] in {o.key for o in scoring.INSTRUMENTS["odi"].outputs if o.kind != "category"}
    assert hooks.key_of_its_instrument({"instrument": "koos", "key": "pain"}) == {"instrument": "koos", "key": "pain"}
    assert hooks.key_of_its_instrument({"key": "pain"}) == {"key": "pain"}
    assert hooks.key_of_its_instrument(None) is None


def test_the_summaries_key_is_one_of_the_numeric_keys(schema):
    key = _parameter(schema, "/api/v1/summaries/scores/", "key")
    numeric = {o.key for i in scoring.INSTRUMENTS.values() for o in i.outputs if o.kind != "category"}
    assert set(key["enum"]) == numeric
    assert "category" not in key["enum"] and "band" not in key["enum"]


@pytest.mark.parametrize("path", ["/api/v1/treatments/", "/api/v1/scores/", "/api/v1/summaries/arthroplasty/"])
def test_whole_number_filters_state_their_bounds_and_lists_their_codes(schema, path):
    for name in ("index_year_min", "index_year_max"):
        f = EpisodeFilterSet.base_filters[name]
        assert _parameter(schema, path, name) == {
            "type": "integer",
            "minimum": f.extra["min_value"],
            "maximum": f.extra["max_value"],
        }
    assert _parameter(schema, path, "kl_grade") == {"type": "array", "items": {"type": "string", "enum": list("01234")}}


def test_page_size_states_its_range(schema):
    assert _parameter(schema, "/api/v1/treatments/", "page_size") == {"type": "integer", "minimum": 1, "maximum": 10000}


@pytest.mark.parametrize(
    "days",
    [
        "0",
        "91",
        "36500",
        "36501",
        "99999",
        "91,182,365",
        ",".join(["1"] * 50),
        ",".join(["1"] * 51),
        "-1",
        "1.5",
        "",
        "91,",
        "0091",
        "365000",
    ],
)
def test_the_days_pattern_accepts_exactly_what_the_view_accepts(schema, days):
    import re

    pattern = _parameter(schema, "/api/v1/summaries/arthroplasty/", "days")["pattern"]
    view_accepts = ArthroplastySummaryQuerySerializer(data={"days": days}).is_valid()
    # The view also takes duplicates and spaces the pattern does not: the pattern is what a client should send,
    # and everything it allows the view takes.
    if re.fullmatch(pattern, days):
        assert view_accepts, days
    elif days in ("", "36501", "99999", "-1", "1.5", "365000", ",".join(["1"] * 51)):
        assert not view_accepts, days
