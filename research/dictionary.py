"""The data dictionary: every released column, every instrument's items and outputs, the timepoints, the
thresholds, and the rules of release. Built from the same definitions the data comes from (deid's column lists,
the scoring engine's instruments and thresholds, outcomes.schedule's windows), so it cannot describe something
the API does not do."""

from __future__ import annotations

from typing import Any

from django.conf import settings

import scoring
from outcomes.models import Timepoint, stored_outputs
from outcomes.schedule import WINDOWS
from research import deid, kanon

ENDPOINTS = {
    "treatments": "/api/v1/treatments/",
    "administrations": "/api/v1/administrations/",
    "scores": "/api/v1/scores/",
    "adverse_events": "/api/v1/adverse-events/",
    "surgeries": "/api/v1/surgeries/",
}

RULES = [
    "Subjects and episodes are identified by random pseudonyms from mapping tables, stable within the registry and "
    "not derived from any key or identifier.",
    "Dates are released as whole days from the episode's index date (its first administration); the index year is "
    "the only calendar element.",
    f"Age is completed years at the index date, {deid.AGE_POOLED_FROM} and over pooled; it is released as a band "
    "(age_band, with age_low inclusive and age_high exclusive), BMI likewise (bmi_band, bmi_low, bmi_high), with "
    "the widths of the site's release policy (release_policies).",
    "k-anonymity: site, sex, age band and BMI band are the quasi-identifiers. Every combination of them in a "
    "site's release holds at least k subjects (k of the site's policy), counted over everything the site releases; "
    "where one would hold fewer, sex, age or BMI are blanked (empty) and the row's qi_suppressed names them. Treat "
    "a blanked value as missing, not as a category. A site that holds fewer than k subjects is withheld: none of "
    "its rows are released until it holds k (its subjects still count in the summaries).",
    "Names, emails, phone numbers, addresses, birth dates, record numbers, calendar dates and free text are never "
    "released.",
    "Only patients who consent to research use are included; a patient who has withdrawn consent is excluded "
    "entirely, including data recorded before the withdrawal.",
    "A key reads only the sites it was issued for.",
    "An episode's product type, source and cell dose are those of its first administration (earliest date, then "
    "earliest entry); n_administrations counts them all.",
]

FILES = {
    "csv": "format=csv: the whole filtered list, streamed; a header row, true/false, empty for missing.",
    "sav_dta": "format=sav (SPSS) and format=dta (Stata): the same rows as the CSV, each column's label as variable "
    "label; a coded column (one with codes) is stored as its code number with the code's label as value label, a "
    "boolean as 0/1 labelled No/Yes, integers and numbers as numbers; missing is system-missing (.) for numbers "
    "and empty for strings. In a .dta a name longer than Stata's 32 characters is the column's stata_name.",
    "datapackage": "/api/v1/datapackage/: a Frictionless Data Package (datapackage.json) describing the CSV files "
    "of every dataset: columns, types, units, codes and missing values.",
}


def _option(option: scoring.AnswerOption) -> dict[str, Any]:
    out: dict[str, Any] = {"value": option.value, "label": option.label}
    if option.points is not None:
        out["points"] = option.points
    return out


def _instrument(definition: scoring.Instrument) -> dict[str, Any]:
    return {
        "id": definition.id,
        "name": definition.name,
        "version": definition.version,
        "derived_from": definition.derived_from,
        "recall_period": definition.recall_period,
        "licence": definition.licence,
        "scoring_source": definition.scoring_source,
        "label_note": definition.label_note,
        "items": [
            {
                "code": item.code,
                "section": item.subscale,
                "order": item.order,
                "label": item.label,
                "kind": item.kind,
                "respondent": item.respondent,
                "options": [_option(o) for o in item.options],
                "min": item.min,
                "max": item.max,
                "unit": item.unit,
            }
            for item in definition.items
        ],
        "outputs": [
            {
                "key": o.key,
                "label": o.label,
                "min": o.min,
                "max": o.max,
                "direction": o.direction,
                "kind": o.kind,
                "unit": o.unit,
                "choices": list(o.choices),
                "wide_column": deid.wide_column_name(definition.id, o.key),
            }
            for o in stored_outputs(definition.id)
        ],
    }


CSV_FIELDS = ["dataset", "endpoint", "variable", "stata_name", "type", "unit", "label", "description", "codes"]


def _codes_text(codes: list[dict[str, Any]]) -> str:
    def value(v: Any) -> str:
        return str(v).lower() if isinstance(v, bool) else str(v)

    return " | ".join(f"{c['code']} = {value(c['value'])}: {c['label']}" for c in codes)


def dictionary_rows() -> list[dict[str, Any]]:
    """The dictionary's columns as a table, one row per variable of each dataset (the wide scores with every
    score column): the CSV form of `data_dictionary()`, from the same entries. `codes` reads
    "1 = knee: Knee | 2 = hip: Hip | ...": the number a .sav or .dta stores, the CSV's value, the value label."""
    body = data_dictionary()
    tables = [(name, d["endpoint"], d["columns"]) for name, d in body["datasets"].items()]
    wide = body["scores_wide"]
    tables.append(("scores_wide", wide["endpoint"], wide["columns"] + wide["all_score_columns"]))
    return [
        {
            "dataset": name,
            "endpoint": endpoint,
            "variable": entry["name"],
            "stata_name": entry.get("stata_name", entry["name"]),
            "type": entry["type"],
            "unit": entry.get("unit", ""),
            "label": entry["label"],
            "description": entry["description"],
            "codes": _codes_text(entry.get("codes", [])),
        }
        for name, endpoint, entries in tables
        for entry in entries
    ]


def release_policies(key: Any) -> list[dict[str, Any]]:
    """The release policy (research.kanon) of each site the key reads."""
    if key is None:
        return []
    codes = dict(key.sites.values_list("pk", "code"))
    return [
        {"site": codes[site_id], **policy.as_dict()}
        for site_id, policy in sorted(kanon.policies(codes).items(), key=lambda kv: codes[kv[0]])
    ]


def data_dictionary(key: Any = None) -> dict[str, Any]:
    labels = dict(Timepoint.choices)
    return {
        "rules": RULES,
        "quasi_identifiers": ["site", "sex", "age_band", "bmi_band"],
        "release_policies": release_policies(key),
        "files": FILES,
        "min_cell_size": settings.RESEARCH_MIN_CELL_SIZE,
        "datasets": {
            name: {"endpoint": ENDPOINTS[name], **dataset.dictionary()} for name, dataset in deid.DATASETS.items()
        },
        "scores_wide": {
            "endpoint": "/api/v1/scores/wide/",
            "row": "one episode and timepoint",
            "columns": [c.dictionary() for c in deid.WIDE_FIXED],
            "score_columns": "<instrument>_<key> for each output of the chosen instruments (see instruments: "
            "outputs: wide_column); empty when the score is missing at that timepoint",
            "all_score_columns": [c.dictionary() for c in deid.wide_score_columns()],
        },
        "instruments": [_instrument(d) for d in scoring.INSTRUMENTS.values()],
        "timepoints": [
            {
                "timepoint": w.timepoint,
                "label": labels[w.timepoint],
                "window_opens_day": w.opens,
                "target_day": w.target,
                "window_closes_day": w.closes,
            }
            for w in WINDOWS
        ],
        "thresholds": [
            {
                "measure": t.measure,
                "instrument": t.instrument,
                "key": t.key,
                "joint": t.joint,
                "value": float(t.value),
                "kind": t.kind,
                "better": t.better,
                "population": t.population,
                "citation": t.citation,
            }
            for t in scoring.THRESHOLDS
        ],
        "omeract_oarsi": {
            "citation": scoring.OMERACT_OARSI_CITATION,
            "inputs": "WOMAC pain and function 0-100 (also derived from KOOS/HOOS); KOOS/HOOS pain and ADL as "
            "100 - score; no patient global is recorded",
        },
    }
