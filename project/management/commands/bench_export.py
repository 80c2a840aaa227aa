"""python manage.py bench_export: the research CSV export through the API against psql's \\copy of the same rows.

On a scratch PostgreSQL database (never the production one: it seeds synthetic patients)::

    createdb -h 127.0.0.1 -U postgres registry_bench
    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/registry_bench
    python manage.py migrate
    python manage.py bench_export --patients 11500      # about a million long-format score rows
    dropdb -h 127.0.0.1 -U postgres registry_bench

It seeds the cohort if the database holds no patients yet (seed_demo, about 88 scores per patient), creates an
API key for every site, starts gunicorn (one sync worker) on a localhost port, and then, in one run, for each
round: streams GET /api/v1/scores/?format=csv through the API, and runs psql's \\copy of the very same COPY
statement (the server's SQL with the key's parameters bound) to /dev/null. It prints rows/s of both, the ratio,
and the worker's peak memory growth during the export (VmHWM reset before the request, minus VmRSS before it).
Needs psql on the PATH and psutil (a dev dependency).
"""

from __future__ import annotations

import http.client
import os
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.utils import timezone

from project.demo import seed_demo
from registry.models import Patient, Site
from research import deid
from research.access import research_queryset
from research.export import copy_sql
from research.services import api_key_create, api_key_revoke, pseudonyms_assign

PATH = "/api/v1/scores/?format=csv"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise CommandError(f"no {field} for process {pid}")


class Command(BaseCommand):
    help = "Benchmark the research CSV export (API) against psql \\copy of the same rows, on PostgreSQL."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--patients", type=int, default=11500, help="patients to seed if none (default 11500)")
        parser.add_argument("--sites", type=int, default=4, help="sites to seed them at (default 4)")
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument("--rounds", type=int, default=3, help="measurements of each (default 3; best is kept)")

    def handle(self, *args: Any, **opts: Any) -> None:
        if connection.vendor != "postgresql":
            raise CommandError("bench_export measures COPY: point DATABASE_URL at a scratch PostgreSQL database.")
        if not shutil.which("psql"):
            raise CommandError("psql is not on the PATH.")

        if not Patient.objects.exists():
            started = time.perf_counter()
            report = seed_demo(
                patients=opts["patients"], seed=opts["seed"], sites=opts["sites"], as_of=timezone.localdate()
            )
            self.stdout.write(
                f"Seeded {report.patients} patients, {report.scores} scores in {time.perf_counter() - started:.0f} s."
            )
        pseudonyms_assign()
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        key, raw_key = api_key_create(name="bench_export", sites=Site.objects.all(), tier="rows")
        try:
            statement, params = self.statement(key)
            server, worker = self.start_server(raw_key)
            try:
                api_runs, psql_runs = [], []
                for n in range(opts["rounds"]):
                    api_runs.append(self.measure_api(worker, raw_key))
                    psql_runs.append(self.measure_psql(statement, params))
                    rows, seconds, growth = api_runs[-1]
                    self.stdout.write(
                        f"round {n + 1}: API {rows:,} rows in {seconds:.2f} s (+{growth / 1024:.1f} MiB); "
                        f"psql {psql_runs[-1][0]:,} rows in {psql_runs[-1][1]:.2f} s"
                    )
            finally:
                server.terminate()
                server.wait(timeout=30)
        finally:
            api_key_revoke(key=key)
        api_rows, api_seconds, _ = min(api_runs, key=lambda r: r[1])
        psql_rows, psql_seconds = min(psql_runs, key=lambda r: r[1])
        api_median = statistics.median(r[1] for r in api_runs)
        psql_median = statistics.median(r[1] for r in psql_runs)
        if api_rows != psql_rows:
            raise CommandError(f"the API gave {api_rows} rows and psql {psql_rows}: not the same rows")
        growth = max(r[2] for r in api_runs)
        api_rate, psql_rate = api_rows / api_seconds, psql_rows / psql_seconds
        self.stdout.write(
            f"\nrows: {api_rows:,}\n"
            f"API  (gunicorn, 1 sync worker, COPY streamed): {api_rate:,.0f} rows/s ({api_seconds:.2f} s, best of "
            f"{len(api_runs)})\n"
            f"psql \\copy of the same statement:             {psql_rate:,.0f} rows/s ({psql_seconds:.2f} s)\n"
            f"ratio API / psql: {api_rate / psql_rate:.2f} (best of each; of the medians: "
            f"{psql_median / api_median:.2f})\n"
            f"server peak memory growth during an export: {growth / 1024:.1f} MiB (worst of {len(api_runs)})"
        )

    def statement(self, key: Any) -> tuple[str, tuple[Any, ...]]:
        """The COPY the API runs for this key: the same function builds it from the same queryset."""
        dataset = deid.SCORES
        rows = dataset.rows(dataset.annotate(research_queryset(dataset.model, key)))
        return copy_sql(rows, dataset.columns, dataset.order_by)

    def start_server(self, raw_key: str) -> tuple[subprocess.Popen, int]:
        import psutil

        port = _free_port()
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "project.settings",
            "DEBUG": "false",
            "SECRET_KEY": os.environ.get("SECRET_KEY") or secrets.token_urlsafe(50),
            "SECURE_SSL_REDIRECT": "false",
            "ALLOWED_HOSTS": "127.0.0.1",
            "RESEARCH_CSV_RATE_LIMIT": "1000/hour",
            "LOG_LEVEL": "WARNING",
        }
        log = open(Path(settings.VAR_DIR) / "bench_export_gunicorn.log", "w")  # noqa: SIM115 - server's lifetime
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "project.wsgi:application",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "1",
                "--worker-class",
                "sync",
                "--timeout",
                "900",
            ],
            env=env,
            cwd=settings.BASE_DIR,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.port = port
        for _ in range(100):
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                time.sleep(0.2)
        else:
            server.terminate()
            raise CommandError("gunicorn did not start; see var/bench_export_gunicorn.log")
        workers = psutil.Process(server.pid).children()
        if len(workers) != 1:
            raise CommandError(f"expected one gunicorn worker, found {len(workers)}")
        # Warm up: load the code paths and the key once, so the measurement is the export itself.
        self.fetch("/api/v1/scores/?page_size=1&format=json", raw_key)
        return server, workers[0].pid

    def fetch(self, path: str, raw_key: str) -> tuple[int, int]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=900)
        conn.request("GET", path, headers={"Authorization": f"Token {raw_key}"})
        response = conn.getresponse()
        if response.status != 200:
            raise CommandError(f"GET {path}: {response.status} {response.read()[:300]!r}")
        size = lines = 0
        while chunk := response.read1(1 << 20):
            size += len(chunk)
            lines += chunk.count(b"\n")
        conn.close()
        return size, lines

    def measure_api(self, worker: int, raw_key: str) -> tuple[int, float, int]:
        before = _kib(worker, "VmRSS")
        Path(f"/proc/{worker}/clear_refs").write_text("5")  # reset the peak (VmHWM) to the current RSS
        started = time.perf_counter()
        _, lines = self.fetch(PATH, raw_key)
        seconds = time.perf_counter() - started
        growth = _kib(worker, "VmHWM") - before
        return lines - 1, seconds, growth  # minus the header

    def measure_psql(self, statement: str, params: tuple[Any, ...]) -> tuple[int, float]:
        import psycopg

        db = settings.DATABASES["default"]
        with psycopg.ClientCursor(connection.connection) as cursor:
            literal = cursor.mogrify(statement, params)
        query = " ".join(literal.split())
        query = query.replace("COPY (", "\\copy (", 1).replace(" TO STDOUT ", " TO '/dev/null' ", 1)
        env = {**os.environ, "PGPASSWORD": db.get("PASSWORD") or ""}
        command = [
            "psql",
            "-X",
            "-h",
            db.get("HOST") or "127.0.0.1",
            "-p",
            str(db.get("PORT") or 5432),
            "-U",
            db.get("USER") or "postgres",
            "-d",
            db["NAME"],
            "-c",
            query,
        ]
        started = time.perf_counter()
        result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        seconds = time.perf_counter() - started
        if result.returncode != 0:
            raise CommandError(f"psql failed: {result.stderr[:500]}")
        match = re.search(r"COPY (\d+)", result.stdout + result.stderr)
        if not match:
            raise CommandError(f"psql did not report a row count: {result.stdout[:300]!r}")
        return int(match.group(1)), seconds
