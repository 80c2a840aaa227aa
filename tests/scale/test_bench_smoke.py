"""`manage.py bench_all` in its tiny mode writes a table with every measurement (figures on PostgreSQL; on SQLite
the lines that need PostgreSQL say so)."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

LINES = [
    "seed ",
    "research CSV export",
    "research JSON page of 500",
    "SQL queries per JSON page",
    "summary: 12-month KOOS pain change by product type",
    "Kaplan-Meier",
    "admin patient list",
    "admin follow-up worklist",
    "admin patient page",
    "dispatcher claim",
    "due invitations to a localhost SMTP sink",
    "full rescore of",
]


@pytest.mark.django_db(transaction=True)
def test_the_tiny_benchmark_writes_every_line(tmp_path):
    output = tmp_path / "benchmarks.md"
    call_command(
        "bench_all",
        "--patients",
        "150",
        "--sites",
        "2",
        "--rounds",
        "1",
        "--invitations",
        "40",
        "--workers",
        "2",
        "--output",
        str(output),
        stdout=StringIO(),
    )
    table = output.read_text()
    rows = [line for line in table.splitlines() if line.startswith("| ") and not line.startswith("| measurement")]
    for expected in LINES:
        assert any(expected in row for row in rows), f"no line for {expected!r} in:\n{table}"
    assert "AMD" in table or "cores" in table  # the machine is described
