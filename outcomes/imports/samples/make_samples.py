"""Writes the synthetic sample files of this folder (run from the project folder:
`.venv/bin/python outcomes/imports/samples/make_samples.py`). Nothing in them is real: names, dates and answers
come from a seeded random generator.

- `redcap_records.csv` and `redcap_dictionary.csv`: a longitudinal REDCap project of knee injections (KOOS coded
  1-5 as REDCap projects often do, a pain VAS slider, a checkbox of earlier treatments, a calculated KOOS pain
  score that the import ignores), as REDCap's "CSV / Microsoft Excel (raw data)" export and its data dictionary
  write them; `redcap_mapping.yaml` maps it.
- `clinic_spreadsheet.xlsx` and `clinic_spreadsheet.csv`: one clinic's own spreadsheet of lumbar injections, one
  row per visit (ODI answered A-F, a 0-100 pain score; dates as Excel date cells in the workbook and as
  day/month/year text in the CSV); `spreadsheet_mapping.yaml` maps it.
"""

from __future__ import annotations

import csv
import random
from datetime import date, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
KOOS = ["S1", "S2", "S3", "S4", "S5", "S6", "S7"] + [f"P{i}" for i in range(1, 10)]
KOOS += [f"A{i}" for i in range(1, 18)] + [f"SP{i}" for i in range(1, 6)] + [f"Q{i}" for i in range(1, 5)]
GIVEN = ["Mina", "Joon", "Hana", "Seo", "Yuna", "Taeho", "Aiko", "Ren"]
FAMILY = ["Kimura", "Parkes", "Leeson", "Choi-Test", "Hanson", "Moraga", "Sato-Test", "Yoon-Test"]
EVENTS = [("baseline_arm_1", 0), ("month_3_arm_1", 91), ("month_6_arm_1", 182), ("month_12_arm_1", 365)]

DD_HEADER = [
    "Variable / Field Name",
    "Form Name",
    "Section Header",
    "Field Type",
    "Field Label",
    "Choices, Calculations, OR Slider Labels",
    "Field Note",
    "Text Validation Type OR Show Slider Number",
    "Text Validation Min",
    "Text Validation Max",
    "Identifier?",
    "Branching Logic (Show field only if...)",
    "Required Field?",
    "Custom Alignment",
    "Question Number (surveys only)",
    "Matrix Group Name",
    "Matrix Ranking?",
    "Field Annotation",
]
KOOS_CHOICES = "1, None | 2, Mild | 3, Moderate | 4, Severe | 5, Extreme"


def _dd_row(name: str, form: str, kind: str, label: str, choices: str = "", validation: str = "", **more: str):
    row = dict.fromkeys(DD_HEADER, "")
    row.update(
        {
            "Variable / Field Name": name,
            "Form Name": form,
            "Field Type": kind,
            "Field Label": label,
            "Choices, Calculations, OR Slider Labels": choices,
            "Text Validation Type OR Show Slider Number": validation,
        }
    )
    row.update(more)
    return row


def redcap(rng: random.Random) -> None:
    dd = [
        _dd_row("record_id", "demographics", "text", "Record ID"),
        _dd_row("first_name", "demographics", "text", "First name", **{"Identifier?": "y"}),
        _dd_row("last_name", "demographics", "text", "Last name", **{"Identifier?": "y"}),
        _dd_row("dob", "demographics", "text", "Date of birth", validation="date_ymd", **{"Identifier?": "y"}),
        _dd_row("sex", "demographics", "radio", "Sex", "1, Female | 2, Male | 3, Other"),
        _dd_row("mrn", "demographics", "text", "Hospital number", **{"Identifier?": "y"}),
        _dd_row("consent_date", "demographics", "text", "Date of registry consent", validation="date_ymd"),
        _dd_row("side", "treatment", "radio", "Treated knee", "1, Left | 2, Right"),
        _dd_row("tx_date", "treatment", "text", "Date of injection", validation="date_ymd"),
        _dd_row("kl_grade", "treatment", "dropdown", "Kellgren-Lawrence grade", "0, 0 | 1, I | 2, II | 3, III | 4, IV"),
        _dd_row(
            "prior_tx",
            "treatment",
            "checkbox",
            "Earlier treatments",
            "1, NSAIDs | 2, Physiotherapy | 3, Steroid injection | 4, Hyaluronic acid, any brand",
        ),
        _dd_row("visit_date", "koos", "text", "Date the questionnaire was filled in", validation="date_ymd"),
    ]
    dd += [_dd_row(f"koos_{c.lower()}", "koos", "radio", f"KOOS {c}", KOOS_CHOICES) for c in KOOS]
    dd.append(
        _dd_row(
            "koos_pain_score",
            "koos",
            "calc",
            "KOOS pain (clinic's own calculation)",
            "100-(mean([koos_p1],[koos_p2],[koos_p3],[koos_p4],[koos_p5],[koos_p6],[koos_p7],[koos_p8],[koos_p9])-1)*25",
        )
    )
    dd.append(_dd_row("pain_vas", "vas", "slider", "Pain today", "No pain | | Worst pain", validation="number"))
    with (HERE / "redcap_dictionary.csv").open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, DD_HEADER)
        writer.writeheader()
        writer.writerows(dd)

    koos_cols = [f"koos_{c.lower()}" for c in KOOS]
    header = ["record_id", "redcap_event_name", "first_name", "last_name", "dob", "sex", "mrn", "consent_date"]
    header += ["demographics_complete", "side", "tx_date", "kl_grade"]
    header += [f"prior_tx___{i}" for i in range(1, 5)] + ["treatment_complete", "visit_date", *koos_cols]
    header += ["koos_pain_score", "koos_complete", "pain_vas", "vas_complete"]
    rows = []
    for n in range(6):
        record = str(1001 + n)
        tx = date(2024, 2, 5) + timedelta(days=23 * n)
        born = date(1950 + 3 * n, 1 + n, 3 + 2 * n)
        severity = rng.uniform(2.2, 3.4)
        for number, (event, day) in enumerate(EVENTS[: 2 + n % 3]):
            row = dict.fromkeys(header, "")
            row.update({"record_id": record, "redcap_event_name": event})
            if number == 0:
                row.update(
                    {
                        "first_name": GIVEN[n],
                        "last_name": FAMILY[n],
                        "dob": born.isoformat(),
                        "sex": str(1 + n % 2),
                        "mrn": f"HRJ-{70000 + 17 * n}",
                        "consent_date": (tx - timedelta(days=14)).isoformat(),
                        "demographics_complete": "2",
                        "side": str(1 + (n // 2) % 2),
                        "tx_date": tx.isoformat(),
                        "kl_grade": str(2 + n % 3),
                        "treatment_complete": "2",
                    }
                )
                for i in range(1, 5):
                    row[f"prior_tx___{i}"] = "1" if rng.random() < 0.5 else "0"
            level = max(0.2, severity - number * rng.uniform(0.3, 0.7))
            answers = {c: str(1 + min(4, max(0, round(rng.gauss(level, 0.6))))) for c in koos_cols}
            row.update(answers)
            row["visit_date"] = (tx + timedelta(days=day - (3 if day == 0 else rng.randint(-7, 7)))).isoformat()
            pains = [int(answers[f"koos_p{i}"]) for i in range(1, 10)]
            row["koos_pain_score"] = f"{100 - (sum(pains) / 9 - 1) * 25:.2f}"
            row["koos_complete"] = "2"
            row["pain_vas"] = str(min(100, max(0, round(level * 22 + rng.uniform(-8, 8)))))
            row["vas_complete"] = "2"
            rows.append(row)
    with (HERE / "redcap_records.csv").open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, header)
        writer.writeheader()
        writer.writerows(rows)


def spreadsheet(rng: random.Random) -> None:
    import openpyxl

    header = ["Patient no", "Surname", "Given name", "Birth date", "Sex", "Hospital no", "Consent signed"]
    header += ["Level", "Injection date", "Visit", "Visit date"] + [f"ODI {q}" for q in range(1, 11)] + ["Pain 0-100"]
    header += ["ODI % (clinic)"]
    visits = [("Pre", 0), ("3 mo", 91), ("6 mo", 182)]
    rows = []
    for n in range(5):
        tx = date(2024, 4, 8) + timedelta(days=19 * n)
        born = date(1955 + 4 * n, 12 - n, 20 - 3 * n)
        severity = rng.uniform(2.0, 3.5)
        for number, (visit, day) in enumerate(visits[: 2 + n % 2]):
            level = max(0.3, severity - number * rng.uniform(0.4, 0.8))
            odi = ["ABCDEF"[min(5, max(0, round(rng.gauss(level, 0.7))))] for _ in range(10)]
            seen = tx + timedelta(days=day - (1 if day == 0 else rng.randint(-6, 6)))
            rows.append(
                [
                    f"SP-{n + 1:03d}",
                    FAMILY[n + 3],
                    GIVEN[n + 3],
                    born.strftime("%d/%m/%Y"),
                    "F" if n % 2 else "M",
                    f"SRO-{5100 + n}",
                    (tx - timedelta(days=10)).strftime("%d/%m/%Y"),
                    ["L4-L5", "L5-S1"][n % 2],
                    tx.strftime("%d/%m/%Y"),
                    visit,
                    seen.strftime("%d/%m/%Y"),
                    *odi,
                    str(min(100, round(level * 24 + rng.uniform(-5, 5)))),
                    f"{sum('ABCDEF'.index(a) for a in odi) * 2}",
                ]
            )
    with (HERE / "clinic_spreadsheet.csv").open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        writer.writerows(rows)
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Follow-up"
    sheet.append(header)
    dated = {header.index(name) for name in ("Birth date", "Consent signed", "Injection date", "Visit date")}
    for row in rows:
        # The workbook holds real dates (as Excel keeps them), the CSV the day/month/year text a clinic types.
        sheet.append([datetime.strptime(v, "%d/%m/%Y") if i in dated else v for i, v in enumerate(row)])
    # A fixed timestamp keeps the workbook's bytes (and so its SHA-256) the same each time it is written.
    book.properties.created = book.properties.modified = datetime(2025, 1, 1)
    book.save(HERE / "clinic_spreadsheet.xlsx")


if __name__ == "__main__":
    redcap(random.Random(19))  # noqa: S311 - synthetic sample data, not security
    spreadsheet(random.Random(4))  # noqa: S311
