"""python manage.py seed_demo --patients N --seed S [--sites K] [--as-of YYYY-MM-DD]"""

from __future__ import annotations

import argparse
import time
from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from project.demo import SeedError, seed_demo


def _whole_number(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}") from None


class Command(BaseCommand):
    help = "Create deterministic synthetic demo data (sites, patients, treatments, adverse events, surgeries)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--patients", type=_whole_number, required=True, help="number of patients in all")
        parser.add_argument("--seed", type=_whole_number, required=True, help="random seed (same seed, same data)")
        parser.add_argument("--sites", type=_whole_number, default=2, help="number of demo sites (default 2)")
        parser.add_argument(
            "--as-of",
            dest="as_of",
            default=None,
            help="the 'today' the data is generated around (YYYY-MM-DD, default today)",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            as_of = date.fromisoformat(opts["as_of"]) if opts["as_of"] else timezone.localdate()
        except ValueError:
            raise CommandError(f"--as-of must be a date as YYYY-MM-DD, got {opts['as_of']!r}") from None
        if as_of > timezone.localdate():
            raise CommandError("--as-of cannot be in the future.")
        started = time.perf_counter()
        try:
            report = seed_demo(patients=opts["patients"], seed=opts["seed"], sites=opts["sites"], as_of=as_of)
        except SeedError as exc:
            raise CommandError(str(exc)) from None
        elapsed = time.perf_counter() - started
        if report.skipped_sites:
            self.stdout.write(f"Sites {', '.join(report.skipped_sites)} already hold patients: left as they are.")
        self.stdout.write(
            f"Seeded {report.patients} patients, {report.episodes} episodes, {report.administrations} "
            f"administrations, {report.adverse_events} adverse events, {report.surgeries} surgeries, "
            f"{report.follow_ups} follow-ups, {report.responses} responses, {report.scores} scores "
            f"at {report.sites} sites in {elapsed:.1f} s."
        )
