"""python manage.py import_records --site CODE --user USERNAME --mapping FILE [--dictionary FILE] [--dry-run] FILE

Imports a clinic's earlier records (a CSV or XLSX spreadsheet, or a REDCap records export with --dictionary) for
one site, as that site's staff member USERNAME, through a mapping file (JSON or YAML; outcomes/imports/mapping.py).
With --dry-run every row is checked and written in a transaction that is rolled back: the report is what the real
run would do. The report goes to stdout, a progress bar to stderr (on a terminal). Exits non-zero, saying why, on
a bad mapping or file, or when any row has a problem: then nothing was imported.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError, CommandParser

from outcomes.imports.mapping import MappingError
from outcomes.imports.services import import_run_create, import_run_execute
from outcomes.models import ImportStatus
from registry.models import Site


class Command(BaseCommand):
    help = "Import a clinic's earlier records (spreadsheet or REDCap export) for one site, all or nothing."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="the records: .csv or .xlsx (a REDCap project: its records export CSV)")
        parser.add_argument("--site", required=True, help="the site's code; the import is for this site only")
        parser.add_argument("--user", required=True, help="the importing staff member (a member of the site)")
        parser.add_argument("--mapping", required=True, help="the mapping file, JSON or YAML")
        parser.add_argument("--dictionary", help="REDCap: the project's data dictionary CSV")
        parser.add_argument("--dry-run", action="store_true", help="check and report; import nothing")

    def handle(self, *args: Any, **opts: Any) -> None:
        site = Site.objects.filter(code=opts["site"]).first()
        if site is None:
            raise CommandError(f"No site with the code {opts['site']!r}.")
        user = get_user_model().objects.filter(username=opts["user"], is_active=True).first()
        if user is None:
            raise CommandError(f"No active user {opts['user']!r}.")
        content = _read(opts["file"])
        dictionary = _read(opts["dictionary"]) if opts["dictionary"] else None
        try:
            run = import_run_create(
                site=site,
                user=user,
                file_name=Path(opts["file"]).name,
                content=content,
                mapping=_read(opts["mapping"]),
                dictionary=dictionary,
                dictionary_name=Path(opts["dictionary"]).name if opts["dictionary"] else "",
                dry_run=opts["dry_run"],
            )
        except PermissionDenied as exc:
            raise CommandError(f"{user.username} may not import for {site.code}: {exc}") from None
        except MappingError as exc:
            raise CommandError("The mapping cannot be used:\n" + "\n".join(f"  {p}" for p in exc.problems)) from None
        bar = _Bar(self.stderr) if getattr(self.stderr, "isatty", lambda: False)() else None
        run = import_run_execute(run=run, progress=bar)
        if bar is not None:
            bar.close()
        counts = run.counts
        for p in run.report:
            where = f"row {p['row']}" if p["row"] else "file"
            column = f", column {p['column']}" if p["column"] else ""
            self.stdout.write(f"{where}{column}: {p['message']}")
        summary = (
            f"{run.file_name} (sha256 {run.sha256}): {counts.get('rows', 0)} rows, "
            f"{counts.get('patients', 0)} new patients, {counts.get('follow_ups', 0)} follow-ups with "
            f"{counts.get('responses', 0)} questionnaires, {counts.get('already_imported', 0)} rows imported before"
        )
        if run.report:
            raise CommandError(f"{len(run.report)} problems: nothing was imported. {summary}.")
        if run.status != ImportStatus.DONE:
            raise CommandError(f"The import did not finish ({run.status}).")
        verdict = "Dry run: nothing was imported; the real run would import" if run.dry_run else "Imported"
        self.stdout.write(self.style.SUCCESS(f"{verdict} {summary} (run {run.pk})."))


def _read(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise CommandError(f"Cannot read {path}: {exc.strerror}.") from None


class _Bar:
    """A one-line progress bar on a terminal's stderr: phase, a bar, rows done of all."""

    WIDTH = 30

    def __init__(self, out: Any) -> None:
        self.out = out

    def __call__(self, phase: str, done: int, total: int) -> None:
        filled = self.WIDTH * done // max(total, 1)
        self.out.write(f"\r{phase:9} [{'#' * filled}{'.' * (self.WIDTH - filled)}] {done}/{total} rows", ending="")
        self.out.flush()

    def close(self) -> None:
        self.out.write("", ending="\n")
        sys.stderr.flush()
