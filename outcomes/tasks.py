"""Celery tasks: thin adapters that take ids and call one service (outcomes.contact).

acks_late and task_reject_on_worker_lost come from settings: a task interrupted by a dead worker is redelivered,
which is safe because the services claim their rows with conditional updates.
"""

from __future__ import annotations

from celery import shared_task

from outcomes import dispatcher, outbox

# Messages per send_messages task: one SMTP connection and a few queries for the lot. Small enough that a batch
# takes seconds (well inside the task time limit) and that several workers share a pass's work.
SEND_BATCH = 50


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
