"""Celery tasks: thin adapters that take ids and call one service (outcomes.contact).

acks_late and task_reject_on_worker_lost come from settings: a task interrupted by a dead worker is redelivered,
which is safe because the services claim their rows with conditional updates.
"""

from __future__ import annotations

import logging
import time

from celery import shared_task

from outcomes import dispatcher, outbox, services
from outcomes.imports.services import import_run_execute
from outcomes.models import ImportRun

log = logging.getLogger(__name__)

# Messages per send_messages task: one SMTP connection and a few queries for the lot. Small enough that a batch
# takes seconds (well inside the task time limit) and that several workers share a pass's work.
SEND_BATCH = 50
# Rescoring after a scoring version changed: follow-ups per transaction, and how long one beat run keeps taking
# batches (well inside CELERY_TASK_SOFT_TIME_LIMIT); the next run carries on where this one stopped.
RESCORE_BATCH = services.RESCORE_CHUNK
RESCORE_SECONDS = 120.0


@shared_task(name="outcomes.tasks.dispatch_follow_ups")
def dispatch_follow_ups() -> dict[str, int]:
    """The one beat entry: move statuses, queue due emails, and hand due messages to the senders in batches."""
    report = dispatcher.dispatch()
    for start in range(0, len(report.due), SEND_BATCH):
        send_messages.delay(report.due[start : start + SEND_BATCH])
    return {"invitations": report.invitations, "reminders": report.reminders, "due": len(report.due)}


@shared_task(name="outcomes.tasks.send_messages")
def send_messages(message_ids: list[int]) -> dict[str, int]:
    return outbox.messages_send(message_ids=message_ids)


@shared_task(name="outcomes.tasks.send_message")
def send_message(message_id: int) -> str:
    """One message at once (a staff resend), and tasks an older version left in the broker."""
    return outbox.message_send(message_id=message_id)


@shared_task(name="outcomes.tasks.rescore_stale_scores")
def rescore_stale_scores() -> dict[str, int]:
    """Beat, every few minutes: rescore follow-ups with stale scores, a batch per transaction, until none is left
    or the run's time is up. Nothing stale (every run but those after a deploy with new scoring rules): one query."""
    deadline = time.monotonic() + RESCORE_SECONDS
    total = services.RescoreReport()
    while True:
        report = services.scores_rescore_batch(limit=RESCORE_BATCH)
        total.follow_ups += report.follow_ups
        total.rows_written += report.rows_written
        total.values_changed += report.values_changed
        if not report.follow_ups or time.monotonic() >= deadline:
            break
    if total.follow_ups:
        remaining = services.scores_stale().exists()
        log.info(
            "Rescored %d follow-ups (%d score rows written, %d values changed); %s",
            total.follow_ups,
            total.rows_written,
            total.values_changed,
            "more to do in the next run" if remaining else "no stale score left",
        )
        if not remaining and services.scores_table_vacuum():  # as `manage.py rescore` does, once at the end
            log.info("Vacuumed and analysed the score table after rescoring.")
    return {"follow_ups": total.follow_ups, "rows_written": total.rows_written, "values_changed": total.values_changed}


# An import writes every row in one transaction through response_submit (a few rows a second on a small machine):
# a clinic's years of follow-ups outlast the default task time limit, so this task has its own.
IMPORT_SECONDS = 3600


@shared_task(name="outcomes.tasks.import_run", time_limit=IMPORT_SECONDS + 60, soft_time_limit=IMPORT_SECONDS)
def import_run(run_id: int) -> str:
    """An import of a clinic's earlier records queued from the admin: check, then write all or nothing. The run is
    claimed first, so a redelivered task does nothing."""
    run = ImportRun.objects.filter(pk=run_id).first()
    if run is None:
        return "gone"
    return import_run_execute(run=run).status
