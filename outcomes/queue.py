"""Handing work to the Celery workers by task name. outcomes.tasks imports the services it runs, so the services
name a task instead of importing it; the names are the ones outcomes.tasks registers (a test checks)."""

from __future__ import annotations

from celery import current_app
from django.db import transaction

SEND_MESSAGE = "outcomes.tasks.send_message"
IMPORT_RUN = "outcomes.tasks.import_run"


def message_send_soon(message_id: int) -> None:
    """Queue one message for the outbox now (a staff resend), as outcomes.tasks.send_message.delay would."""
    current_app.send_task(SEND_MESSAGE, args=[message_id])


def import_run_soon(run_id: int) -> None:
    """Queue an import run (outcomes.imports) once the transaction that created it has committed."""
    transaction.on_commit(lambda: current_app.send_task(IMPORT_RUN, args=[run_id]))
