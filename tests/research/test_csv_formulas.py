"""No CSV the registry writes hands a spreadsheet a live formula (issue 21, item 1).

Every free-text field (anything a person types: names, codes, reasons, notes, descriptions) is given a value
starting with `=`, `+`, `-`, `@`, tab or carriage return, and every CSV export is read back: the audit trail, each
research dataset (long and wide scores) and the data dictionary. The rule (registry.csvsafe): a text cell that
starts like a formula is written with a single quote in front; a number is written as a number.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
from pathlib import Path

import pytest
from django.apps import apps
from django.db import models
from django.utils import timezone

from outcomes.models import CallAttempt, CallOutcome, FollowUp
from registry.csvsafe import FORMULA_STARTS, Writer, safe_cell, sql_text
from registry.models import Patient
from research import deid
from research.models import EpisodePseudonym, SubjectPseudonym
from research.services import pseudonyms_assign
from tests.conftest import login

pytestmark = pytest.mark.django_db

# Typed by a person, so it may hold anything: each gets a formula below. (Released research columns among them:
# the site code; the pseudonyms are generated but given formulas too, to drive the string columns.)
FREE_TEXT = {
    "registry.Site": ["code", "name", "contact_email", "contact_phone"],
    "registry.Patient": ["withdrawal_reason"],
    "registry.PatientIdentity": ["given_name", "family_name", "email", "phone", "mobile", "medical_record_number"],
    "registry.Protocol": ["code", "name", "version", "regulator_reference", "description"],
    "registry.TreatmentEpisode": ["spinal_level"],
    "registry.Administration": ["product_name", "device_kit", "operator"],
    "registry.AdverseEvent": ["description"],
    "outcomes.OutcomePlan": ["name"],
    "outcomes.CallAttempt": ["note"],
    "outcomes.InstrumentWording": ["source"],
    "outcomes.Message": ["last_error"],
    "research.ApiKey": ["name"],
    "registry.ConsentDocument": ["version", "title", "text"],
    "outcomes.ImportRun": ["file_name", "dictionary_name", "source"],  # the clinic's file names, its source label
    "outcomes.ImportKey": ["source", "record", "event"],  # as the clinic's file has them
    "research.SubjectPseudonym": ["pseudonym"],
    "research.EpisodePseudonym": ["pseudonym"],
    "research.RowRequest": ["method", "path", "query"],  # as a researcher's client sent them
}
# Text that no person types: generated, validated against a list, or a code of ours. Not free text.
NOT_FREE_TEXT = {
    "registry.Site": ["time_zone", "country"],  # validated zone name and ISO code
    "registry.Patient": ["registry_id", "consent_version"],  # generated; the consent document's code
    "registry.PatientIdentity": ["country"],
    "outcomes.Response": ["missing_codes", "instrument_version", "scoring_version", "language"],
    "outcomes.DoubleEntry": ["first_missing", "second_missing"],
    "outcomes.Score": ["instrument", "key", "value_text", "scoring_version"],
    "outcomes.InstrumentWording": ["instrument", "language"],
    "outcomes.FollowUpSettings": ["reminder_days"],  # validated list of numbers
    "outcomes.AccessToken": ["token_hash"],
    "outcomes.Message": ["to_email", "to_phone", "provider_ref", "dedupe_key"],  # copied, provider's, ours
    "outcomes.Draft": ["instrument"],
    "research.ApiKey": ["prefix", "key_hash"],
    "registry.ConsentDecision": ["version"],  # copied from the consent document
    "outcomes.ImportRun": ["sha256", "language"],  # computed; the staff member's language code
}
FORMULA = re.compile(r"^[=+\-@\t\r]")
NUMBER = re.compile(r"^-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?$")


def _text_fields() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for model in apps.get_models():
        if model._meta.app_label not in ("registry", "outcomes", "research") or model.__name__.startswith("Historical"):
            continue
        for f in model._meta.concrete_fields:
            if isinstance(f, models.CharField | models.TextField) and not f.choices:
                found.setdefault(model._meta.label, set()).add(f.name)
    return found


def test_every_text_field_is_classified():
    """A new text field must be placed: free text (it gets a formula here) or not."""
    classified = {label: set(FREE_TEXT.get(label, [])) | set(NOT_FREE_TEXT.get(label, [])) for label in _text_fields()}
    assert classified == _text_fields()


def _fill_with_formulas() -> None:
    counter = itertools.count(1)
    for label, names in FREE_TEXT.items():
        model = apps.get_model(label)
        for pk in model.objects.values_list("pk", flat=True):
            values = {}
            for name in names:
                n = next(counter)
                start = FORMULA_STARTS[n % len(FORMULA_STARTS)]
                text = f'{start}HYPERLINK("http://x/{n}","y")' if start == "=" else f"{start}{n}+1"
                if name == "mobile":  # E.164 by a check constraint: a plus sign and digits, a formula to a spreadsheet
                    text = f"+1555{n:07d}"
                if len(text) > (model._meta.get_field(name).max_length or 200):
                    text = f"{start}{n}"  # still unique, for the unique ones (codes, pseudonyms)
                values[name] = text
            model.objects.filter(pk=pk).update(**values)


def _rows(body: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body)))


def _check(rows: list[list[str]], text_columns: set[str] | None = None) -> int:
    """No cell starts like a formula, except a number (in a column that is not text). Returns the count of cells
    that were neutralised (start with a quote and then a formula character)."""
    header, *body = rows
    neutralised = 0
    for row in body:
        for name, cell in zip(header, row, strict=True):
            if cell.startswith("'") and FORMULA.match(cell[1:]):
                neutralised += 1
            if FORMULA.match(cell):
                assert NUMBER.match(cell) and (text_columns is None or name not in text_columns), (name, cell)
    return neutralised


def test_no_export_writes_a_live_formula(client, charlie, cohort, api_a, key_a):
    pseudonyms_assign()
    # A follow-up called, a reason for a change: more free text for the audit trail.
    follow_up = FollowUp.objects.filter(episode__patient__site=cohort.patients[0].site).first()
    CallAttempt.objects.create(
        follow_up=follow_up, note="x", outcome=CallOutcome.values[0], by=charlie, at=timezone.now()
    )
    patient = Patient.objects.get(pk=cohort.patients[0].pk)
    patient._change_reason = '=HYPERLINK("http://x","y")'
    patient.save()
    _fill_with_formulas()
    assert SubjectPseudonym.objects.filter(pseudonym__regex=r"^[=+\-@\t\r]").exists()
    assert EpisodePseudonym.objects.exists()

    audit = login(client, charlie).get("/admin/audit/export/")
    assert audit.status_code == 200
    assert _check(_rows(b"".join(audit.streaming_content).decode())) > 0

    released = 0
    for path, dataset in [
        ("/api/v1/treatments/", deid.TREATMENTS),
        ("/api/v1/administrations/", deid.ADMINISTRATIONS),
        ("/api/v1/scores/", deid.SCORES),
        ("/api/v1/adverse-events/", deid.ADVERSE_EVENTS),
        ("/api/v1/surgeries/", deid.SURGERIES),
        ("/api/v1/scores/wide/", None),
    ]:
        columns = dataset.columns if dataset else [*deid.WIDE_FIXED, *deid.wide_score_columns()]
        text = {c.name for c in columns if c.kind == "string"}
        rows = _rows(api_a.csv_text(path))
        assert len(rows) > 1, path
        released += _check(rows, text)
    assert released > 0  # the site codes and pseudonyms arrived, as text
    dictionary = api_a.get("/api/v1/dictionary/", format="csv")
    assert dictionary.status_code == 200
    _check(_rows(dictionary.content.decode()))


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-2", "'-2"),  # text that reads like a number is still text
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\r=1", "'\r=1"),
        ("a=1", "a=1"),
        ("", ""),
        (-3, -3),  # a number stays a number
        (-2.5, -2.5),
        (None, None),
    ],
)
def test_safe_cell_neutralises_text_only(cell, written):
    assert safe_cell(cell) == written


def test_the_writer_keeps_formatted_numbers_numeric():
    buffer = io.StringIO()
    Writer(buffer, format=lambda v: repr(v) if isinstance(v, float) else v, lineterminator="\n").writerow(
        [-0.5, "-0.5", -3]
    )
    assert buffer.getvalue() == "-0.5,'-0.5,-3\n"


def test_the_sql_rule_is_the_python_rule():
    sql = sql_text('q."c_site"')
    assert sql.count("chr(9)") == 1 and sql.count("chr(13)") == 1
    for start in "=+-@":
        assert f"'{start}'" in sql


def test_no_csv_is_written_past_the_shared_writer():
    """Every CSV goes through registry.csvsafe: no other module uses csv.writer or csv.DictWriter."""
    root = Path(__file__).resolve().parents[2]
    offenders = [
        str(path.relative_to(root))
        for package in ("scoring", "registry", "outcomes", "research", "project")
        for path in (root / package).rglob("*.py")
        # The samples' generator writes the shipped synthetic files for tests and the demo, not a registry export.
        if path.name not in ("csvsafe.py", "make_samples.py")
        and re.search(r"csv\.(writer|DictWriter)\(", path.read_text())
    ]
    assert offenders == []


def test_a_carriage_return_in_a_cell_keeps_the_row_whole():
    buffer = io.StringIO()
    Writer(buffer, lineterminator="\n").writerows([["\rx", 1], ["a\rb", 2], ["ok", 3]])
    assert list(csv.reader(io.StringIO(buffer.getvalue()))) == [["'\rx", "1"], ["a\rb", "2"], ["ok", "3"]]
