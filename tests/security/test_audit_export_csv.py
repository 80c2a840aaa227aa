"""The audit-trail CSV never hands a spreadsheet a live formula typed into a free-text field."""

from __future__ import annotations

import csv
import io

import pytest

from registry.csvsafe import safe_cell as spreadsheet_safe
from tests.conftest import login

pytestmark = pytest.mark.django_db


def test_free_text_that_looks_like_a_formula_is_written_as_text(client, charlie, patient_a):
    patient_a._change_reason = '=HYPERLINK("http://x","y")'
    patient_a.save()
    body = login(client, charlie).get("/admin/audit/export/")
    assert body.status_code == 200
    rows = list(csv.reader(io.StringIO(b"".join(body.streaming_content).decode())))
    reasons = [r[6] for r in rows]
    assert '\'=HYPERLINK("http://x","y")' in reasons
    for row in rows:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell


@pytest.mark.parametrize(
    ("cell", "written"),
    [("=1+1", "'=1+1"), ("+1", "'+1"), ("-2", "'-2"), ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"), ("ok", "ok"), (3, 3)],
)
def test_spreadsheet_safe(cell, written):
    assert spreadsheet_safe(cell) == written
