"""The data dictionary as CSV (one row per variable of each dataset), and the Frictionless Data Package that
describes the CSV exports and validates against real exported files."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import frictionless
import pytest
from django.test import override_settings

from research import deid
from research.dictionary import ENDPOINTS

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
    assert rows[("treatments", "bmi_band")]["codes"] == "" and rows[("treatments", "bmi_band")]["unit"] == "kg/m2"
    assert rows[("treatments", "age_low")]["type"] == "integer" and rows[("treatments", "age_low")]["unit"] == "years"
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


# The Data Package -------------------------------------------------------------------------------------------


def save_package(api, folder, **wide_params) -> dict:
    """datapackage.json and every CSV it names, saved in one folder as a researcher would."""
    package = api.json("/api/v1/datapackage/")
    (folder / "datapackage.json").write_text(json.dumps(package), encoding="utf-8")
    paths = {r["name"]: r["path"] for r in package["resources"]}
    endpoints = {**ENDPOINTS, "scores_wide": "/api/v1/scores/wide/"}
    for name, path in paths.items():
        params = wide_params if name == "scores_wide" else {}
        response = api.get(endpoints[name], format="csv", **params)
        assert response["Content-Disposition"].endswith(f'filename="{path}"')  # the name the export is saved as
        (folder / path).write_bytes(b"".join(response.streaming_content))
    return package


def test_the_data_package_describes_every_csv_column_from_the_dictionary(api_a):
    package = api_a.json("/api/v1/datapackage/")
    resources = {r["name"]: r for r in package["resources"]}
    assert list(resources) == [*deid.DATASETS, "scores_wide"]
    dictionary = api_a.json("/api/v1/dictionary/")
    for name, dataset in dictionary["datasets"].items():
        fields = resources[name]["schema"]["fields"]
        assert [f["name"] for f in fields] == [c["name"] for c in dataset["columns"]]
        for f, entry in zip(fields, dataset["columns"], strict=True):
            assert (f["title"], f["description"], f["type"]) == (entry["label"], entry["description"], entry["type"])
            assert f.get("unit") == entry.get("unit")
            if "values" in entry:
                assert f["constraints"]["enum"] == entry["values"]
                assert f["categories"] == [{"value": c["value"], "label": c["label"]} for c in entry["codes"]]
        assert resources[name]["schema"]["missingValues"] == [""]
    joint = next(f for f in resources["treatments"]["schema"]["fields"] if f["name"] == "joint")
    assert {"value": "knee", "label": "Knee"} in joint["categories"]
    surgery = {f["name"]: f for f in resources["surgeries"]["schema"]["fields"]}
    assert (surgery["arthroplasty"]["trueValues"], surgery["arthroplasty"]["falseValues"]) == (["true"], ["false"])
    assert resources["scores_wide"]["schema"]["fieldsMatch"] == "superset"


def test_the_data_package_validates_against_the_exported_csvs(api_ab, cohort, tmp_path):
    package = save_package(api_ab, tmp_path)
    report = frictionless.validate(str(tmp_path / "datapackage.json"))
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])
    assert len(report.tasks) == len(package["resources"])
    assert all(task.stats["rows"] > 0 for task in report.tasks)


def test_frictionless_validate_on_the_command_line_passes(api_ab, cohort, tmp_path):
    save_package(api_ab, tmp_path, instrument="koos,vas")  # the wide file has some of the score columns
    result = subprocess.run(
        [sys.executable, "-m", "frictionless", "validate", "datapackage.json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def test_the_data_package_catches_a_value_outside_the_code_list(api_ab, cohort, tmp_path):
    save_package(api_ab, tmp_path)
    treatments = tmp_path / "treatments.csv"
    text = treatments.read_text()
    treatments.write_text(text.replace(",knee,", ",elbow,", 1))
    report = frictionless.validate(str(tmp_path / "datapackage.json"))
    assert not report.valid
    assert ["joint", "constraint-error"] in report.flatten(["fieldName", "type"])


def test_the_data_package_needs_a_key_and_takes_no_filters(client, api_a):
    assert client.get("/api/v1/datapackage/").status_code == 401
    response = api_a.get("/api/v1/datapackage/", joint="knee")
    assert response.status_code == 400 and "unknown_parameters" in response.json()


def test_the_schema_documents_the_data_package_and_the_dictionary_csv(client):
    import yaml

    paths = yaml.safe_load(client.get("/api/v1/schema/").content)["paths"]
    package = paths["/api/v1/datapackage/"]["get"]
    assert {"200", "401", "429"} <= set(package["responses"])
    dictionary = paths["/api/v1/dictionary/"]["get"]
    assert {"application/json", "text/csv"} <= set(dictionary["responses"]["200"]["content"])
    assert next(p for p in dictionary["parameters"] if p["name"] == "format")["schema"]["enum"] == ["csv", "json"]
