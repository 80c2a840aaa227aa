"""python manage.py bench_all: every scale measurement in one run, written as a Markdown table.

On a scratch PostgreSQL database (it seeds synthetic patients, creates a coordinator login and an API key, sends
test emails to a local SMTP sink and rewrites every stored score)::

    createdb -h 127.0.0.1 -U postgres registry_scale
    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/registry_scale
    python manage.py migrate
    python manage.py bench_all --patients 100000 --rounds 5      # writes docs/benchmarks.md
    dropdb -h 127.0.0.1 -U postgres registry_scale

`--patients 300 --rounds 1` is the tiny mode (well under a minute; tests/scale/test_bench_smoke.py runs it). On
SQLite the lines that need PostgreSQL (COPY, SKIP LOCKED, several sending processes) say so instead of a figure.

What it measures, each over `--rounds` runs (median, and the spread min-max):
- research CSV export of all long-format scores through the API (gunicorn, one sync worker) against psql's \\copy
  of the same COPY statement, and the worker's peak memory growth (bench_export's code, reused);
- research JSON pages of 500 rows (following the cursor), in-process through the whole middleware stack:
  latency and SQL queries per page;
- the 12-month KOOS pain summary by product type and the Kaplan-Meier endpoint: latency;
- the dispatcher's claim of a batch of 500 follow-ups (SELECT ... FOR UPDATE SKIP LOCKED), with its plan, on a
  follow-up table padded to `--claim-rows` (1 million) inside a transaction that is rolled back;
- sending due invitations (up to `--invitations`) to an aiosmtpd sink on a localhost port with `--workers`
  processes calling messages_send on batches, as the Celery workers' send_messages tasks do;
- the admin patient list, follow-up worklist and a patient page as a logged-in coordinator;
- a full rescore of every stored score (all marked as an older scoring version first; run once).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import re
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest import mock

import django
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, connections, transaction
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from outcomes import contact, dispatcher, outbox
from outcomes.models import FollowUp, Message, MessageItem, MessageKind, MessageStatus, Response, Score
from outcomes.services import scores_rescore
from outcomes.tasks import SEND_BATCH
from project.demo import seed_demo
from project.management.commands.bench_export import Command as Export
from project.management.commands.bench_export import _free_port
from registry import roles
from registry.models import Membership, Patient, Site, TreatmentEpisode
from research.services import api_key_create, api_key_revoke, pseudonyms_assign

BENCH_USER = "bench.coordinator"
MD_PATH = "docs/benchmarks.md"


@dataclass
class Line:
    what: str
    result: str
    spread: str
    target: str
    met: str  # "yes", "no" or "n/a"
    note: str = ""


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]


def _spread(values: list[float], fmt: Callable[[float], str]) -> str:
    return f"{fmt(min(values))} – {fmt(max(values))} (n={len(values)})"


def _met(ok: bool) -> str:
    return "yes" if ok else "**no**"


def _send_slice(batches: list[list[int]], host: str, port: int) -> None:
    """A sending process: what a Celery worker's send_messages task does, for its share of the batches."""
    connections.close_all()  # never share the parent's socket
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_USE_TLS = host, port, False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    for batch in batches:
        outbox.messages_send(message_ids=batch)
    connections.close_all()


PARTS = ("export", "json_pages", "summaries", "admin", "claim", "send", "rescore")


def _parts(value: str) -> list[str]:
    parts = [p.strip() for p in value.split(",") if p.strip()]
    unknown = sorted(set(parts) - set(PARTS))
    if not parts or unknown:
        named = ", ".join(unknown) or "(none)"
        raise argparse.ArgumentTypeError(f"unknown part(s) {named}; choose from {', '.join(PARTS)}")
    return [p for p in PARTS if p in parts]


class Command(BaseCommand):
    help = "Run every scale benchmark (export, API pages, summaries, dispatcher, admin, rescore) and write a table."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--patients", type=int, default=100_000, help="patients to seed if none (100000)")
        parser.add_argument("--sites", type=int, default=8, help="sites to seed them at (default 8)")
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument("--rounds", type=int, default=5, help="runs of each measurement (default 5)")
        parser.add_argument("--invitations", type=int, default=10_000, help="due invitations to send (10000)")
        parser.add_argument("--workers", type=int, default=4, help="sending processes (default 4)")
        parser.add_argument(
            "--claim-rows",
            type=int,
            default=1_000_000,
            help="follow-ups in the table while the claim is measured; padded and rolled back (default 1000000)",
        )
        parser.add_argument("--output", default=MD_PATH, help=f"Markdown file to write (default {MD_PATH})")
        parser.add_argument(
            "--only",
            type=_parts,
            default=None,
            metavar="PART,...",
            help=f"run only these measurements ({', '.join(PARTS)}), e.g. while profiling; seeds if needed, "
            "prints the lines and writes no file",
        )

    # Orchestration ---------------------------------------------------------------------------------------

    def handle(self, *args: Any, **opts: Any) -> None:
        self.opts = opts
        self.pg = connection.vendor == "postgresql"
        self.lines: list[Line] = []
        self.notes: list[str] = []
        started = time.perf_counter()
        self.seed_line()

        pseudonyms_assign()
        if self.pg:
            with connection.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE")  # what autovacuum does soon after a bulk load: fresh statistics
        self.key, self.raw_key = api_key_create(name="bench_all", sites=Site.objects.all(), tier="rows")
        try:
            with override_settings(
                ALLOWED_HOSTS=["testserver", "127.0.0.1"],
                SECURE_SSL_REDIRECT=False,
                RESEARCH_RATE_LIMIT="1000000/minute",
                RESEARCH_CSV_RATE_LIMIT="1000000/hour",
                # In-process admin pages without collectstatic's manifest (the benchmark needs no static files).
                STORAGES={
                    **settings.STORAGES,
                    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
                },
            ):
                for part in opts["only"] or PARTS:
                    getattr(self, f"bench_{part}")()
        finally:
            api_key_revoke(key=self.key)
        total = time.perf_counter() - started
        if opts["only"] is None:
            self.write(total)

    def row(self, *args: Any, **kw: Any) -> None:
        line = Line(*args, **kw)
        self.lines.append(line)
        self.stdout.write(f"{line.what}: {line.result} [{line.spread}] target {line.target}: {line.met}")

    def counts(self) -> dict[str, int]:

        return {
            "patients": Patient.objects.count(),
            "episodes": TreatmentEpisode.objects.count(),
            "follow-ups": FollowUp.objects.count(),
            "responses": Response.objects.count(),
            "scores": Score.objects.count(),
        }

    def seed_record(self) -> Path:
        return Path(settings.VAR_DIR) / f"bench_seed_{settings.DATABASES['default']['NAME']}.json".replace("/", "_")

    def seed_line(self) -> None:
        if Patient.objects.exists():
            record = self.seed_record()
            if record.exists():  # seeded by an earlier run on this database: show that run's figure
                line = Line(**json.loads(record.read_text()))
                line.spread = "earlier run on this database"
                self.lines.append(line)
            else:
                self.notes.append("The database already held patients: no seeding in this run.")
            self.contact_reset()
            return
        opts = self.opts
        started = time.perf_counter()
        report = seed_demo(
            patients=opts["patients"], seed=opts["seed"], sites=opts["sites"], as_of=timezone.localdate()
        )
        seconds = time.perf_counter() - started
        per = seconds / max(1, report.patients)
        extrapolated = per * 100_000
        self.row(
            f"seed {report.patients:,} patients ({report.episodes:,} episodes, {report.follow_ups:,} follow-ups, "
            f"{report.scores:,} scores)",
            f"{seconds:.0f} s ({per * 1000:.1f} ms/patient)",
            "one run",
            "100,000 patients < 15 min",
            _met(extrapolated < 900) if report.patients < 100_000 else _met(seconds < 900),
            note=f"extrapolated to 100,000: {extrapolated / 60:.1f} min" if report.patients < 100_000 else "",
        )
        self.seed_record().parent.mkdir(parents=True, exist_ok=True)
        self.seed_record().write_text(json.dumps(asdict(self.lines[-1])))

    def contact_reset(self) -> None:
        """An earlier run invited the due follow-ups: forget that, so the claim and the sending measure the same
        work again (a scratch database only)."""

        with transaction.atomic():
            MessageItem.objects.all().delete()
            Message.objects.all().delete()
            FollowUp.objects.exclude(invited_at=None).update(
                invited_at=None, next_reminder_at=None, reminders_sent=0, last_reminded_at=None, call_list_since=None
            )

    # Research export -------------------------------------------------------------------------------------

    def bench_export(self) -> None:
        import shutil

        if not self.pg or not shutil.which("psql"):
            self.row(
                "research CSV export (API vs psql \\copy)",
                "n/a",
                "",
                "≥ 0.8 of psql, < 50 MB",
                "n/a",
                note="needs PostgreSQL and psql",
            )
            return

        export = Export(stdout=self.stdout, stderr=self.stderr)
        statement, params = export.statement(self.key)
        db = settings.DATABASES["default"]
        url = (
            f"postgres://{db.get('USER') or 'postgres'}:{db.get('PASSWORD') or ''}@{db.get('HOST') or '127.0.0.1'}:"
            f"{db.get('PORT') or 5432}/{db['NAME']}"
        )
        with mock.patch.dict(os.environ, {"DATABASE_URL": url}):  # the server reads this run's database
            server, worker = export.start_server(self.raw_key)
        try:
            api, psql = [], []
            for _ in range(self.opts["rounds"]):
                api.append(export.measure_api(worker, self.raw_key))
                psql.append(export.measure_psql(statement, params))
        finally:
            server.terminate()
            server.wait(timeout=30)
        rows = api[0][0]
        if any(r[0] != rows for r in api) or any(p[0] != rows for p in psql):
            raise CommandError("the API and psql did not return the same number of rows")
        api_rates = [rows / r[1] for r in api]
        psql_rates = [rows / p[1] for p in psql]
        ratios = [a / p for a, p in zip(api_rates, psql_rates, strict=True)]
        growth = max(r[2] for r in api) / 1024
        ratio = statistics.median(ratios)
        self.row(
            f"research CSV export, {rows:,} long-format score rows: API rows/s",
            f"{statistics.median(api_rates):,.0f} rows/s",
            _spread(api_rates, lambda v: f"{v:,.0f}"),
            "—",
            "n/a",
        )
        self.row(
            "same rows by psql \\copy (same COPY statement, same run)",
            f"{statistics.median(psql_rates):,.0f} rows/s",
            _spread(psql_rates, lambda v: f"{v:,.0f}"),
            "—",
            "n/a",
        )
        self.row(
            "export ratio API / psql (per round)",
            f"{ratio:.2f}",
            _spread(ratios, lambda v: f"{v:.2f}"),
            "≥ 0.8",
            _met(ratio >= 0.8),
        )
        self.row(
            "server peak memory growth during an export (worst round)",
            f"{growth:.1f} MiB",
            f"worst of {len(api)}",
            "< 50 MB",
            _met(growth * 1.048576 < 50),
        )

    # Research API in-process -----------------------------------------------------------------------------

    def api_client(self) -> Client:
        return Client(HTTP_AUTHORIZATION=f"Token {self.raw_key}")

    def timed_get(self, client: Client, path: str) -> tuple[float, int, Any]:
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            response = client.get(path)
            if getattr(response, "streaming", False):
                b"".join(response.streaming_content)
            seconds = time.perf_counter() - started
        if response.status_code != 200:
            raise CommandError(f"GET {path}: {response.status_code} {response.content[:300]!r}")
        return seconds, len(queries), response

    def bench_json_pages(self) -> None:
        client = self.api_client()
        self.timed_get(client, "/api/v1/scores/?format=json&page_size=1")  # warm up
        times, queries = [], set()
        pages = max(2, 10 * self.opts["rounds"])
        path: str | None = "/api/v1/scores/?format=json&page_size=500"
        for _ in range(pages):
            if not path:
                path = "/api/v1/scores/?format=json&page_size=500"
            seconds, n, response = self.timed_get(client, path)
            times.append(seconds)
            queries.add(n)
            following = response.json().get("next")
            path = following.split("testserver", 1)[-1] if following else None
        p95 = _p95(times)
        self.row(
            f"research JSON page of 500 score rows, {len(times)} pages along the cursor: p50 / p95",
            f"{_ms(statistics.median(times))} / {_ms(p95)}",
            _spread(times, _ms),
            "p95 < 150 ms",
            _met(p95 < 0.150),
        )
        self.row(
            "SQL queries per JSON page",
            ", ".join(str(q) for q in sorted(queries)),
            "constant" if len(queries) == 1 else "varies",
            "constant",
            _met(len(queries) == 1),
        )

    def bench_summaries(self) -> None:
        client = self.api_client()
        for label, path in [
            (
                "summary: 12-month KOOS pain change by product type",
                "/api/v1/summaries/scores/?instrument=koos&key=pain&group_by=product_type&timepoint=m12",
            ),
            ("Kaplan-Meier time to arthroplasty by KL grade", "/api/v1/summaries/arthroplasty/?group_by=kl_grade"),
        ]:
            self.timed_get(client, path)  # warm up
            times = [self.timed_get(client, path)[0] for _ in range(self.opts["rounds"])]
            median = statistics.median(times)
            self.row(label, _ms(median), _spread(times, _ms), "< 1 s", _met(median < 1.0))

    # Admin --------------------------------------------------------------------------------------------------

    def bench_admin(self) -> None:

        site = Site.objects.order_by("pk").first()
        user, _ = get_user_model().objects.get_or_create(username=BENCH_USER, defaults={"is_staff": True})
        user.is_staff, user.is_active = True, True
        user.set_unusable_password()
        user.save()
        Membership.objects.update_or_create(
            user=user, site=site, defaults={"role": Membership.Role.COORDINATOR, "active": True}
        )
        roles.membership_sync_user(user=user)
        patient = (
            Patient.objects.filter(site=site, episodes__isnull=False).order_by("-pk").first()
            or Patient.objects.filter(site=site).first()
        )
        client = Client()
        client.force_login(user)
        for label, path in [
            (
                f"admin patient list (coordinator, site of {Patient.objects.filter(site=site).count():,} patients)",
                "/admin/registry/patient/",
            ),
            ("admin follow-up worklist", "/admin/outcomes/worklist/"),
            ("admin patient page", f"/admin/registry/patient/{patient.pk}/change/"),
        ]:
            self.timed_get(client, path)  # warm up
            times, queries = [], []
            for _ in range(max(3, 4 * self.opts["rounds"])):
                seconds, n, _ = self.timed_get(client, path)
                times.append(seconds)
                queries.append(n)
            p95 = _p95(times)
            self.row(
                f"{label}: p95",
                _ms(p95),
                _spread(times, _ms) + f", {max(queries)} queries",
                "p95 < 500 ms",
                _met(p95 < 0.5),
            )

    # Dispatcher ---------------------------------------------------------------------------------------------

    def bench_claim(self) -> None:
        if not self.pg:
            self.row("dispatcher claim of 500 follow-ups", "n/a", "", "< 10 ms", "n/a", note="needs PostgreSQL")
            return
        with transaction.atomic():  # the padding below is rolled back at the end
            padded = self.pad_follow_ups(self.opts["claim_rows"])
            self.measure_claim(padded)
            transaction.set_rollback(True)

    def pad_follow_ups(self, rows: int) -> int:
        """Fill the follow-up table up to `rows` with copies of its own rows (inside the caller's transaction,
        which is rolled back), so the claim is measured on a table of national size even when fewer patients
        were seeded. Copies keep every column (status, windows, invitation state) and so the mix of past,
        open and future follow-ups; their timepoint is suffixed, which keeps them out of the unique
        (episode, timepoint) constraint (the timepoint check is dropped for the transaction, and comes back
        with the rollback). Returns how many rows were added."""

        table = FollowUp._meta.db_table
        have = FollowUp.objects.count()
        if have >= rows or have == 0:
            return 0
        columns = [f.column for f in FollowUp._meta.concrete_fields if f.column not in ("id", "timepoint")]
        listed = ", ".join(connection.ops.quote_name(c) for c in columns)
        added, copy = 0, 0
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT follow_up_timepoint_valid")
            while have + added < rows:
                copy += 1
                cursor.execute(  # names from the model's own metadata, values as parameters
                    f"INSERT INTO {table} (timepoint, {listed}) "  # noqa: S608
                    f"SELECT left(timepoint, 6) || '~' || %s, {listed} FROM {table} "
                    f"WHERE timepoint NOT LIKE '%%~%%' ORDER BY id LIMIT %s",
                    [str(copy), rows - have - added],
                )
                added += cursor.rowcount
            cursor.execute(f"ANALYZE {table}")  # the planner sees the padded table, as autovacuum would
        return added

    def measure_claim(self, padded: int) -> None:

        total = FollowUp.objects.count()
        claim = (
            dispatcher._locked(FollowUp.objects.filter(status__in=contact.LIVE, invited_at__isnull=True))
            .select_related("episode__patient__site", "episode__patient__identity")
            .order_by("window_closes", "pk")
        )
        with transaction.atomic():
            sql, params = claim[:500].query.sql_with_params()
        orm, raw, executed = [], [], []
        for _ in range(max(3, 4 * self.opts["rounds"])):
            with transaction.atomic():  # what _queue_invitations runs; rolled back, so every round claims the same
                with connection.cursor() as cursor:
                    cursor.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + sql, params)
                    self.plan = "\n".join(r[0] for r in cursor.fetchall())
                executed.append(float(re.search(r"Execution Time: ([\d.]+) ms", self.plan).group(1)) / 1000)
                transaction.set_rollback(True)
            with transaction.atomic():
                started = time.perf_counter()
                with connection.cursor() as cursor:
                    cursor.execute(sql, params)
                    claimed = len(cursor.fetchall())
                raw.append(time.perf_counter() - started)
                transaction.set_rollback(True)
            with transaction.atomic():
                started = time.perf_counter()
                list(claim[:500])
                orm.append(time.perf_counter() - started)
                transaction.set_rollback(True)
        median = statistics.median(executed)
        self.row(
            f"dispatcher claim of a batch of up to 500 (FOR UPDATE SKIP LOCKED; {claimed} due), "
            f"{total:,} follow-ups in the table"
            + (f" ({padded:,} of them copies, rolled back after)" if padded else "")
            + ": execution in PostgreSQL (EXPLAIN ANALYZE)",
            _ms(median),
            _spread(executed, _ms),
            "< 10 ms",
            _met(median < 0.010),
        )
        self.row(
            "the same claim seen from Python: SQL plus transfer of the 500 joined rows (about 75 columns each)",
            _ms(statistics.median(raw)),
            _spread(raw, _ms),
            "—",
            "n/a",
        )
        self.row(
            "the same claim through the ORM (500 follow-ups with patient, site and identity as objects)",
            _ms(statistics.median(orm)),
            _spread(orm, _ms),
            "—",
            "n/a",
        )

    def bench_send(self) -> None:
        import logging

        from aiosmtpd.controller import Controller
        from django.urls import get_resolver

        target = self.opts["invitations"]
        now = datetime.now(tz=UTC)
        with mock.patch.object(dispatcher, "_enqueue", lambda pk: None):  # this benchmark sends, not a broker
            while Message.objects.filter(kind=MessageKind.INVITATION).count() < target:
                queued, listed = dispatcher._queue_invitations(now, min(5000, target))
                if not queued and not listed:
                    break
        ids = list(
            Message.objects.filter(kind=MessageKind.INVITATION, status=MessageStatus.PENDING)
            .order_by("pk")
            .values_list("pk", flat=True)[:target]
        )
        # As dispatch_follow_ups hands them to the workers: batches of SEND_BATCH, taken in turn.
        batches = [ids[i : i + SEND_BATCH] for i in range(0, len(ids), SEND_BATCH)]
        received = []

        class Sink:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
                received.append(len(envelope.content))
                return "250 OK"

        logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every SMTP command at INFO
        _ = get_resolver().url_patterns  # load the URLconf (links in the email) once, before the senders fork
        port = _free_port()
        sink = Controller(Sink(), hostname="127.0.0.1", port=port)
        sink.start()
        workers = self.opts["workers"] if self.pg else 1
        try:
            started = time.perf_counter()
            if workers > 1:
                connections.close_all()
                ctx = multiprocessing.get_context("fork")
                procs = [
                    ctx.Process(target=_send_slice, args=(batches[i::workers], "127.0.0.1", port))
                    for i in range(workers)
                ]
                for p in procs:
                    p.start()
                for p in procs:
                    p.join()
            else:
                with override_settings(
                    EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
                    EMAIL_HOST="127.0.0.1",
                    EMAIL_PORT=port,
                    EMAIL_USE_TLS=False,
                    EMAIL_HOST_USER="",
                    EMAIL_HOST_PASSWORD="",
                ):
                    for batch in batches:
                        outbox.messages_send(message_ids=batch)
            seconds = time.perf_counter() - started
        finally:
            deadline = time.time() + 5
            while len(received) < len(ids) and time.time() < deadline:
                threading.Event().wait(0.05)
            sink.stop()
        sent = Message.objects.filter(pk__in=ids, status=MessageStatus.SENT).count()
        if sent != len(ids) or len(received) != len(ids):
            self.notes.append(f"Sending: {len(ids)} due, {sent} marked sent, {len(received)} received by the sink.")
        scaled = seconds * target / max(1, len(ids))
        self.row(
            f"send {len(ids):,} due invitations to a localhost SMTP sink, {workers} process(es) calling "
            f"messages_send on batches of {SEND_BATCH}",
            f"{seconds:.1f} s ({len(ids) / max(seconds, 1e-9):,.0f}/s)",
            "one run",
            f"{target:,} < 60 s",
            _met(scaled < 60),
            note="" if len(ids) >= target else f"only {len(ids):,} were due; {target:,} at this rate: {scaled:.0f} s",
        )

    # Scoring ------------------------------------------------------------------------------------------------

    def bench_rescore(self) -> None:

        stored = Score.objects.update(scoring_version="bench-previous")
        started = time.perf_counter()
        report = scores_rescore(show=5)
        seconds = time.perf_counter() - started
        if report.values_changed:
            self.notes.append(f"Rescore changed {report.values_changed} values (expected none): {report.changes}")
        self.row(
            f"full rescore of {stored:,} stored scores ({report.follow_ups:,} follow-ups)",
            f"{seconds:.1f} s ({stored / max(seconds, 1e-9):,.0f} scores/s)",
            "one run",
            "2 million < 5 min",
            _met(seconds * 2_000_000 / max(1, stored) < 300),
            note="" if stored >= 2_000_000 else f"2 million at this rate: {seconds * 2_000_000 / max(1, stored):.0f} s",
        )

    # Report ---------------------------------------------------------------------------------------------------

    def machine(self) -> list[str]:
        cpu = platform.processor() or platform.machine()
        try:
            for text in Path("/proc/cpuinfo").read_text().splitlines():
                if text.startswith("model name"):
                    cpu = text.split(":", 1)[1].strip()
                    break
        except OSError:
            pass
        memory = ""
        try:
            kib = int(Path("/proc/meminfo").read_text().split()[1])
            memory = f", {kib / 1024 / 1024:.0f} GiB RAM"
        except (OSError, ValueError, IndexError):
            pass
        database = connection.vendor
        if self.pg:
            with connection.cursor() as cursor:
                cursor.execute("SHOW server_version")
                database = f"PostgreSQL {cursor.fetchone()[0]} (same machine, loopback)"
        return [
            f"- CPU: {cpu}, {os.cpu_count()} cores{memory}",
            f"- OS: {platform.system()} {platform.release()}; Python {platform.python_version()}, "
            f"Django {django.get_version()}",
            f"- database: {database}",
        ]

    def write(self, total: float) -> None:
        counts = self.counts()
        out = [
            "## Latest run",
            "",
            f"Latest run: {timezone.now():%Y-%m-%d %H:%M} UTC, `python manage.py bench_all "
            f"--patients {self.opts['patients']} --rounds {self.opts['rounds']}` ({total / 60:.1f} min in all).",
            "",
            *self.machine(),
            "- data: " + ", ".join(f"{v:,} {k}" for k, v in counts.items()),
            "",
            "| measurement | result (median) | spread (min – max) | target | met |",
            "|---|---|---|---|---|",
        ]
        for line in self.lines:
            result = line.result + (f" ({line.note})" if line.note else "")
            out.append(f"| {line.what} | {result} | {line.spread} | {line.target} | {line.met} |")
        if self.notes:
            out += ["", *(f"- {n}" for n in self.notes)]
        if getattr(self, "plan", None):
            out += ["", "Plan of the dispatcher's claim (EXPLAIN ANALYZE):", "", "```", self.plan, "```"]
        path = Path(self.opts["output"])
        if not path.is_absolute():
            path = Path(settings.BASE_DIR) / path
        path.parent.mkdir(parents=True, exist_ok=True)
        marker = "<!-- bench_all: everything below is rewritten by each run -->"
        head = ""
        if path.exists() and marker in path.read_text():
            head = path.read_text().split(marker, 1)[0]
        path.write_text(head + marker + "\n\n" + "\n".join(out) + "\n")
        self.stdout.write(f"Wrote {path}")
