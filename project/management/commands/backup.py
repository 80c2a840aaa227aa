"""python manage.py backup --output FILE [--check]

PostgreSQL: `pg_dump --format=custom` of the registry's database to FILE. With --check the dump is restored into a
new, empty database, every table's row count is compared with the live one, and the check database is dropped:
a backup that does not restore is not a backup. SQLite (the demo): SQLite's online backup API, checked the same way.
Exits non-zero with a message on any failure.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection


def _counts(cursor: Any, tables: list[str], quote: Any) -> dict[str, int]:
    out = {}
    for table in tables:
        cursor.execute(f"SELECT COUNT(*) FROM {quote(table)}")  # noqa: S608 - table names come from the catalogue
        out[table] = cursor.fetchone()[0]
    return out


class Command(BaseCommand):
    help = "Back up the database to a file; with --check, restore it into a fresh database and compare counts."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--output", required=True, help="file to write the backup to")
        parser.add_argument("--check", action="store_true", help="restore into a scratch database and compare")

    def handle(self, *args: Any, **opts: Any) -> None:
        output = Path(opts["output"])
        if not output.parent.is_dir():
            raise CommandError(f"The folder {output.parent} does not exist.")
        started = time.perf_counter()
        if connection.vendor == "postgresql":
            self._postgres(output, opts["check"])
        elif connection.vendor == "sqlite":
            self._sqlite(output, opts["check"])
        else:
            raise CommandError(f"No backup method for the {connection.vendor} backend.")
        self.stdout.write(f"Backup written to {output} ({output.stat().st_size:,} bytes) "
                          f"in {time.perf_counter() - started:.1f} s.")

    def _compare(self, live: dict[str, int], restored: dict[str, int]) -> None:
        differ = {t: (live[t], restored.get(t)) for t in live if live[t] != restored.get(t)}
        if differ:
            lines = ", ".join(f"{t}: {a} live, {b} restored" for t, (a, b) in sorted(differ.items()))
            raise CommandError(f"The restored backup differs: {lines}")
        self.stdout.write(f"Restore check passed: {len(live)} tables, {sum(live.values()):,} rows, same counts.")

    def _postgres(self, output: Path, check: bool) -> None:
        settings = connection.settings_dict
        env = {**os.environ, "PGPASSWORD": settings.get("PASSWORD") or ""}
        conn_args = ["-h", settings.get("HOST") or "localhost", "-p", str(settings.get("PORT") or 5432),
                     "-U", settings.get("USER") or "postgres"]
        dump = subprocess.run(["pg_dump", *conn_args, "--format=custom", "--file", str(output), settings["NAME"]],
                              env=env, capture_output=True, text=True)
        if dump.returncode:
            raise CommandError(f"pg_dump failed: {dump.stderr.strip()}")
        if not check:
            return
        tables = list(connection.introspection.table_names())
        with connection.cursor() as cursor:
            live = _counts(cursor, tables, connection.ops.quote_name)
        scratch = f"restore_check_{secrets.token_hex(4)}"
        subprocess.run(["createdb", *conn_args, scratch], env=env, check=True, capture_output=True)
        try:
            restore = subprocess.run(["pg_restore", *conn_args, "--no-owner", "--dbname", scratch, str(output)],
                                     env=env, capture_output=True, text=True)
            if restore.returncode:
                raise CommandError(f"pg_restore failed: {restore.stderr.strip()}")
            import psycopg

            with (
                psycopg.connect(host=conn_args[1], port=conn_args[3], user=conn_args[5], dbname=scratch,
                                password=settings.get("PASSWORD") or None) as restored_conn,
                restored_conn.cursor() as cursor,
            ):
                restored = _counts(cursor, tables, connection.ops.quote_name)
        finally:
            subprocess.run(["dropdb", *conn_args, "--if-exists", scratch], env=env, capture_output=True)
        self._compare(live, restored)

    def _sqlite(self, output: Path, check: bool) -> None:
        connection.ensure_connection()
        target = sqlite3.connect(output)
        try:
            connection.connection.backup(target)
        finally:
            target.close()
        if not check:
            return
        tables = connection.introspection.table_names()
        with connection.cursor() as cursor:
            live = _counts(cursor, tables, connection.ops.quote_name)
        restored_conn = sqlite3.connect(output)
        try:
            restored = _counts(restored_conn.cursor(), tables, connection.ops.quote_name)
        finally:
            restored_conn.close()
        self._compare(live, restored)
