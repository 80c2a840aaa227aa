"""Fault tests: a real Celery worker in a subprocess, on the real broker (Redis) and the test database
(PostgreSQL), sending to an SMTP sink in this process.

The worker runs `project.settings` (not the test settings, which force the locmem email backend) with its
environment pointed at the test database, the broker of the run and the sink. It consumes a queue of its own and
sends every task to it (the tests name it too), so no other test run sharing the Redis database can take its work
or give it theirs.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
import redis
import time_machine
from aiosmtpd.controller import Controller
from django.conf import settings
from django.db import connection
from kombu import Exchange, Queue

from outcomes.models import FollowUp, FollowUpStatus, Message, MessageItem, MessageKind
from project.celery import app
from tests import factories

DISPATCH = "outcomes.tasks.dispatch_follow_ups"  # the beat task: the stable public entry point
WORKER_READY_SECONDS = 20.0

# Runs in the worker subprocess. The queue is set here because the settings read no env var for it; remote
# control is off so a killed worker leaves no mailbox binding behind on the shared broker.
WORKER_BOOT = """
import os
from project.celery import app
queue = os.environ["FAULTS_QUEUE"]
app.conf.task_default_queue = queue
app.conf.worker_enable_remote_control = False
if os.environ.get("FAULTS_TEXT_BACKEND"):
    from django.conf import settings
    settings.TEXT_BACKEND = os.environ["FAULTS_TEXT_BACKEND"]
app.worker_main([
    "worker", "--pool=solo", "--queues=" + queue, "--hostname=" + queue + "@%h", "--loglevel=INFO",
    "--without-gossip", "--without-mingle", "--without-heartbeat",
])
"""


def postgres_and_redis() -> bool:
    return connection.vendor == "postgresql" and settings.CELERY_BROKER_URL.startswith("redis://")


needs_postgres_and_redis = pytest.mark.skipif(
    not postgres_and_redis(),
    reason="fault tests need PostgreSQL (DATABASE_URL=postgres://...) and Redis (CELERY_BROKER_URL=redis://...); "
    "CI runs them there",
)


def wait_until(condition: Callable[[], object], seconds: float, failure: Callable[[], str] | str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    pytest.fail(failure() if callable(failure) else failure)


# The SMTP sink -------------------------------------------------------------------------------------------


class SinkHandler:
    """Accepts every message (250) and records its recipients, except that with `hold_first` the first message
    is held inside DATA, after its content arrived and before any answer, until `release` is set."""

    HOLD_SECONDS = 15.0

    def __init__(self, hold_first: bool) -> None:
        self.hold_first = hold_first
        self.delivered: list[str] = []  # one entry per recipient of every message answered 250
        self.in_data = threading.Event()
        self.release = threading.Event()
        self._held = False  # handlers run on the controller's one event loop: no lock needed

    async def handle_DATA(self, server, session, envelope) -> str:
        if self.hold_first and not self._held:
            self._held = True
            self.in_data.set()
            await asyncio.get_running_loop().run_in_executor(None, self.release.wait, self.HOLD_SECONDS)
            return "451 4.3.0 held by the test and not accepted"
        self.delivered.extend(envelope.rcpt_tos)
        return "250 2.0.0 accepted"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(autouse=True)
def _real_clock() -> Iterator[None]:
    """The worker subprocess runs on the real clock and writes its claims and leases by it, so these tests run on
    it too (the rest of the suite runs from the anchor in tests/conftest.py)."""
    real = datetime.fromtimestamp(time_machine.escape_hatch.time.time(), tz=UTC)
    with time_machine.travel(real, tick=True):
        yield


@pytest.fixture
def smtp_sink() -> Iterator[tuple[SinkHandler, int]]:
    """(handler, port) of a sink on a free local port. Set `handler.hold_first` to hold the first message."""
    handler = SinkHandler(hold_first=False)
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield handler, controller.port
    finally:
        handler.release.set()
        controller.stop()


# The worker ----------------------------------------------------------------------------------------------


@pytest.fixture
def fault_queue() -> Iterator[str]:
    """A queue of this test's own. This process names it on every task it sends (the app's own queues and
    routing are left alone: other tests start in-process workers on them). Removed from Redis afterwards, with
    its bindings and any delivery a killed worker left unacknowledged (kombu would put it back in an hour)."""
    queue = f"faults-{uuid.uuid4().hex[:12]}"
    try:
        yield queue
    finally:
        client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
        try:
            for key in client.scan_iter(match=f"*{queue}*"):  # the list, _kombu.binding[_permanent].<queue>
                client.delete(key)
            for tag, raw in client.hgetall("unacked").items():
                if queue.encode() in raw:
                    client.hdel("unacked", tag)
                    client.zrem("unacked_index", tag)
        finally:
            client.close()


def database_url() -> str:
    """The test database (test_...), as DATABASE_URL for the worker."""
    d = connection.settings_dict
    auth = quote(d["USER"] or "", safe="")
    if d["PASSWORD"]:
        auth += ":" + quote(d["PASSWORD"], safe="")
    host = d["HOST"] or ""
    if d["PORT"]:
        host += f":{d['PORT']}"
    return f"postgres://{auth}@{host}/{quote(d['NAME'], safe='')}"


@dataclass
class Worker:
    proc: subprocess.Popen
    log_path: Path
    queue: str

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log().splitlines()[-lines:])

    def wait_for(self, text: str, seconds: float, what: str) -> None:
        def seen() -> bool:
            if text in self.log():
                return True
            if self.proc.poll() is not None:
                pytest.fail(f"the worker exited ({self.proc.returncode}) before {what}; its log:\n{self.tail()}")
            return False

        wait_until(seen, seconds, lambda: f"{what}: not within {seconds:.0f} s; the worker's log:\n{self.tail()}")

    def run(self, seconds: float = 15.0) -> str:
        """Queue the beat task by name, wait until this worker has finished it (either way); returns its id.
        The worker runs one task at a time in queue order, so everything queued before it is done too."""
        task_id = self.send()
        self.wait_for_task(task_id, seconds)
        return task_id

    def send(self, task_id: str | None = None) -> str:
        """Queue the beat task by name on this worker's queue; returns its id."""
        task_id = task_id or str(uuid.uuid4())
        queue = Queue(self.queue, Exchange(self.queue, type="direct"), routing_key=self.queue)
        app.send_task(DISPATCH, task_id=task_id, queue=queue)
        return task_id

    def wait_for_task(self, task_id: str, seconds: float = 15.0) -> None:
        def finished() -> bool:
            log = self.log()
            return f"[{task_id}] succeeded" in log or f"[{task_id}] raised" in log

        wait_until(finished, seconds, lambda: f"task {task_id} did not finish in {seconds:.0f} s:\n{self.tail()}")

    def succeeded(self, task_id: str) -> bool:
        return f"[{task_id}] succeeded" in self.log()

    def failure(self, task_id: str) -> str:
        """The line the worker logged when the task raised, or ""."""
        return next((line for line in self.log().splitlines() if f"[{task_id}] raised" in line), "")

    def kill(self) -> None:
        """SIGKILL to the worker's whole process group: no shutdown, no acknowledgement, no cleanup."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)


@pytest.fixture
def start_worker(transactional_db, smtp_sink, fault_queue, tmp_path) -> Iterator[Callable[[], Worker]]:
    """Starts real Celery workers (solo pool) in subprocesses; each is stopped, and killed if need be, before
    the database is flushed."""
    _, port = smtp_sink
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "SECRET_KEY": settings.SECRET_KEY,
        "DEBUG": "false",
        "EMAIL_BACKEND": "smtp",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(port),
        "EMAIL_TIMEOUT": "30",
        "REGISTRY_VAR_DIR": str(tmp_path / "var"),
        "LOG_LEVEL": "INFO",
        "FAULTS_QUEUE": fault_queue,
        "FAULTS_TEXT_BACKEND": "tests.faults.text_sink.HoldingTextBackend",
        "FAULTS_TEXT_DIR": str(tmp_path / "texts"),
        "PYTHONUNBUFFERED": "1",
    }
    (tmp_path / "texts").mkdir()
    workers: list[Worker] = []

    def start() -> Worker:
        log_path = tmp_path / f"worker-{len(workers) + 1}.log"
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-c", WORKER_BOOT],
                cwd=settings.BASE_DIR,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, so killpg reaches every process it starts
            )
        worker = Worker(proc, log_path, fault_queue)
        workers.append(worker)
        worker.wait_for(" ready.", WORKER_READY_SECONDS, "the worker was ready")
        return worker

    try:
        yield start
    finally:
        for worker in workers:
            if worker.proc.poll() is None:
                os.killpg(worker.proc.pid, signal.SIGTERM)
                try:
                    worker.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(worker.proc.pid, signal.SIGKILL)
                    worker.proc.wait(timeout=10)


# Data ----------------------------------------------------------------------------------------------------


@dataclass
class DueWork:
    """Patients whose follow-up windows are open and who were never invited."""

    follow_ups: dict[str, list[int]] = field(default_factory=dict)  # email -> due follow-up ids

    @property
    def emails(self) -> list[str]:
        return sorted(self.follow_ups)

    @property
    def all_follow_ups(self) -> list[int]:
        return sorted(pk for pks in self.follow_ups.values() for pk in pks)


@pytest.fixture
def due_work(transactional_db, site_a) -> DueWork:
    """Four patients, each with both knees treated 100 days ago: two open 3-month windows each, so every
    invitation covers two follow-ups."""
    work = DueWork()
    for _ in range(4):
        patient = factories.PatientFactory(site=site_a)
        for side in ("left", "right"):
            factories.EpisodeFactory(patient=patient, side=side, index_date=date.today() - timedelta(days=100))
        due = list(
            FollowUp.objects.filter(episode__patient=patient, status__in=[FollowUpStatus.OPEN, FollowUpStatus.PARTIAL])
        )
        assert len(due) == 2 and all(fu.invited_at is None for fu in due)
        work.follow_ups[patient.identity.email] = [fu.pk for fu in due]
    return work


def assert_nothing_half_written(work: DueWork) -> None:
    """Whatever state we are in, it is whole: a follow-up is invited if and only if exactly one invitation covers
    it, and every patient message covers at least one follow-up."""
    for fu in FollowUp.objects.filter(pk__in=work.all_follow_ups):
        items = MessageItem.objects.filter(follow_up=fu, kind=MessageKind.INVITATION).count()
        assert items == (1 if fu.invited_at else 0), f"follow-up {fu.pk}: invited_at={fu.invited_at}, {items} items"
    assert not Message.objects.filter(patient__isnull=False, items__isnull=True).exists(), "a message without items"


def assert_everyone_invited_once(work: DueWork, delivered: list[str]) -> None:
    """Every due follow-up is invited by exactly one sent message, and the sink got each invitation once."""
    for email, pks in work.follow_ups.items():
        assert FollowUp.objects.filter(pk__in=pks, invited_at__isnull=False).count() == len(pks), email
        messages = Message.objects.filter(items__follow_up__in=pks, kind=MessageKind.INVITATION).distinct()
        assert [(m.to_email, m.status) for m in messages] == [(email, "sent")]
    assert_nothing_half_written(work)
    assert sorted(delivered) == work.emails, f"delivered {sorted(delivered)}, expected each of {work.emails} once"


@pytest.fixture
def maintenance() -> Iterator[psycopg.Connection]:
    """An autocommit connection to the `postgres` maintenance database of the same server."""
    d = connection.settings_dict
    conn = psycopg.connect(
        host=d["HOST"] or None,
        port=d["PORT"] or None,
        user=d["USER"] or None,
        password=d["PASSWORD"] or None,
        dbname="postgres",
        autocommit=True,
    )
    try:
        yield conn
    finally:
        conn.close()


def connect_to_test_db(**kwargs) -> psycopg.Connection:
    d = connection.settings_dict
    return psycopg.connect(
        host=d["HOST"] or None,
        port=d["PORT"] or None,
        user=d["USER"] or None,
        password=d["PASSWORD"] or None,
        dbname=d["NAME"],
        **kwargs,
    )
