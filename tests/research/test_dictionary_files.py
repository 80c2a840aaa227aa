"""The data dictionary as CSV (one row per variable of each dataset), and the Frictionless Data Package that
describes the CSV exports and validates against them."""

from __future__ import annotations

import csv
import io

import pytest
from django.test import override_settings

from research import deid

pytestmark = pytest.mark.django_db


def dictionary_csv(api) -> list[dict[str, str]]:
    response = api.get("/api/v1/dictionary/", format="csv")
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"].startswith("text/csv")
    assert 'filename="dictionary.csv"' in response["Content-Disposition"]
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def test_the_dictionary_csv_has_one_row_per_variable_of_each_dataset(api_a):
    rows = dictionary_csv(api_a)
    expected = [(name, c.name) for name, d in deid.DATASETS.items() for c in d.columns]
    expected += [("scores_wide", c.name) for c in [*deid.WIDE_FIXED, *deid.wide_score_columns()]]
    assert [(r["dataset"], r["variable"]) for r in rows] == expected
    assert len(set(expected)) == len(expected)
    assert list(rows[0]) == ["dataset", "endpoint", "variable", "stata_name", "type", "unit", "label", "description",
                             "codes"]  # fmt: skip


def test_the_dictionary_csv_says_what_the_json_says(api_a):
    body = api_a.json("/api/v1/dictionary/")
    rows = {(r["dataset"], r["variable"]): r for r in dictionary_csv(api_a)}
    for name, dataset in body["datasets"].items():
        for entry in dataset["columns"]:
            row = rows[(name, entry["name"])]
            assert (row["type"], row["label"], row["description"], row["unit"] or None) == (
                entry["type"],
                entry["label"],
                entry["description"],
                entry.get("unit"),
            )
            assert row["endpoint"] == dataset["endpoint"]
    sex = rows[("treatments", "sex")]["codes"]
    assert sex == "1 = female: Female | 2 = male: Male | 3 = other: Other | 4 = unknown: Unknown"
    assert rows[("treatments", "prior_surgery")]["codes"] == "0 = false: No | 1 = true: Yes"
    assert rows[("treatments", "bmi")]["codes"] == "" and rows[("treatments", "bmi")]["unit"] == "kg/m2"
    long_name = rows[("scores_wide", "womac_from_koos_stiffness_0_100_inv")]
    assert long_name["stata_name"] == "womac_koos_stiffness_0_100_inv"


def test_the_dictionary_csv_is_not_counted_as_a_data_export(api_a):
    with override_settings(RESEARCH_CSV_RATE_LIMIT="1/hour"):
        for _ in range(3):
            assert api_a.get("/api/v1/dictionary/", format="csv").status_code == 200
        assert api_a.get("/api/v1/scores/", format="csv").status_code == 200


@pytest.mark.parametrize("fmt", ["sav", "dta", "xml"])
def test_the_dictionary_offers_json_and_csv_only(api_a, fmt):
    response = api_a.get("/api/v1/dictionary/", format=fmt)
    assert response.status_code == 400
    assert "csv, json" in response.json()["format"][0]


def test_the_dictionary_csv_needs_a_key(client):
    assert client.get("/api/v1/dictionary/", {"format": "csv"}).status_code == 401
