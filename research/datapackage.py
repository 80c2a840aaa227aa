"""A Frictionless Data Package (`datapackage.json`) describing the research CSV files.

One tabular resource per CSV export, its `path` the file name the export is downloaded as (`scores.csv`, ...),
so a researcher who saves the CSVs beside `datapackage.json` can validate and load them with the Frictionless
tools. Every field comes from the column's data dictionary entry (`Column.dictionary()`): title (the label),
description, type, unit, the code list as an `enum` constraint and as Data Package v2 `categories` (value and
label), booleans as true/false, missing as the empty cell, as the CSV writes them (research.export).

The wide scores' columns depend on the instruments and keys asked for, so its schema lists every score column
and says `fieldsMatch: superset` (Data Package v2): a file holds the fixed columns and some of the score ones.
"""

from __future__ import annotations

from typing import Any

from research import deid
from research.dictionary import ENDPOINTS, RULES

NAME = "regen-ortho-registry-research"
TABLE_SCHEMA_TYPES = {"string": "string", "integer": "integer", "number": "number", "boolean": "boolean"}
# The CSV's missing value (research.export writes NULL as an empty cell).
MISSING_VALUES = [""]


def field(entry: dict[str, Any]) -> dict[str, Any]:
    """A Table Schema field from a dictionary entry."""
    out: dict[str, Any] = {
        "name": entry["name"],
        "title": entry["label"],
        "description": entry["description"],
        "type": TABLE_SCHEMA_TYPES[entry["type"]],
    }
    if entry.get("unit"):
        out["unit"] = entry["unit"]
    if entry["type"] == "boolean":
        out["trueValues"] = ["true"]
        out["falseValues"] = ["false"]
    elif entry.get("values"):
        out["constraints"] = {"enum": list(entry["values"])}
        out["categories"] = [{"value": c["value"], "label": c["label"]} for c in entry["codes"]]
    return out


def _resource(name: str, endpoint: str, row: str, entries: list[dict[str, Any]], **schema: Any) -> dict[str, Any]:
    return {
        "name": name,
        "path": f"{name}.csv",
        "profile": "tabular-data-resource",
        "format": "csv",
        "mediatype": "text/csv",
        "encoding": "utf-8",
        "title": f"{name.replace('_', ' ').capitalize()}: {row}",
        "description": f"One row is {row}. Download with GET {endpoint}?format=csv (saved as {name}.csv).",
        "dialect": {"delimiter": ",", "quoteChar": '"', "header": True},
        "schema": {"fields": [field(e) for e in entries], "missingValues": MISSING_VALUES, **schema},
    }


def data_package() -> dict[str, Any]:
    resources = [
        _resource(name, ENDPOINTS[name], dataset.row, [c.dictionary() for c in dataset.columns])
        for name, dataset in deid.DATASETS.items()
    ]
    wide = [*deid.WIDE_FIXED, *deid.wide_score_columns()]
    resources.append(
        _resource(
            "scores_wide",
            "/api/v1/scores/wide/",
            "one episode and timepoint, a column <instrument>_<key> per score",
            [c.dictionary() for c in wide],
            # The file has the score columns of the instruments and keys asked for: some of these.
            fieldsMatch="superset",
        )
    )
    return {
        "name": NAME,
        "title": "Regenerative orthopedics outcome registry: de-identified research data",
        "description": " ".join(RULES),
        "profile": "tabular-data-package",
        "keywords": ["orthobiologics", "patient-reported outcomes", "registry", "de-identified"],
        "resources": resources,
    }
