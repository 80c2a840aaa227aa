"""Celery tasks: thin adapters that take ids and call one service (outcomes.contact).

acks_late and task_reject_on_worker_lost come from settings: a task interrupted by a dead worker is redelivered,
which is safe because the services claim their rows with conditional updates.
"""

from __future__ import annotations

from celery import shared_task

from outcomes import contact


@shared_task(name="outcomes.tasks.dispatch_follow_ups")
def dispatch_follow_ups() -> dict[str, int]:
    """The one beat entry: move statuses, queue due emails, and hand due messages to the senders."""
    report = contact.dispatch()
    for message_id in report.due:
        send_message.delay(message_id)
    return {"invitations": report.invitations, "reminders": report.reminders, "due": len(report.due)}


@shared_task(name="outcomes.tasks.send_message")
def send_message(message_id: int) -> str:
    return contact.message_send(message_id=message_id)
