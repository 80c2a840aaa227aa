"""`manage.py bench_all` in its tiny mode writes a table with every measurement (figures on PostgreSQL; on SQLite
the lines that need PostgreSQL say so)."""

from __future__ import annotations

import os
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
        "--claim-rows",
        "3000",
        "--output",
        str(output),
        stdout=StringIO(),
    )
    table = output.read_text()
    rows = [line for line in table.splitlines() if line.startswith("| ") and not line.startswith("| measurement")]
    for expected in LINES:
        assert any(expected in row for row in rows), f"no line for {expected!r} in:\n{table}"
    assert f"{os.cpu_count()} cores" in table  # the machine is described: its CPU and core count


@pytest.mark.django_db(transaction=True)
def test_the_claim_is_measured_on_a_padded_table_that_is_rolled_back(tmp_path):
    from django.db import connection

    from outcomes.models import FollowUp

    if connection.vendor != "postgresql":
        pytest.skip("the dispatcher claim is measured on PostgreSQL only")
    output = tmp_path / "benchmarks.md"
    call_command("seed_demo", "--patients", "60", "--seed", "3", stdout=StringIO())
    before = FollowUp.objects.count()
    from project.management.commands.bench_all import Command

    command = Command(stdout=StringIO())
    command.opts = {"claim_rows": 3 * before + 17, "rounds": 1, "output": str(output)}
    command.pg, command.lines, command.notes = True, [], []
    command.bench_claim()
    (line,) = [line for line in command.lines if line.what.startswith("dispatcher claim")]
    assert f"{3 * before + 17:,} follow-ups in the table" in line.what
    assert f"{2 * before + 17:,} of them copies" in line.what
    assert "follow_up_to_invite" in command.plan  # the claim reads the partial index
    assert FollowUp.objects.count() == before  # the padding is gone
    assert not FollowUp.objects.filter(timepoint__contains="~").exists()
