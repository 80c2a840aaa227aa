"""Celery tasks of the registry app: thin adapters that call one service (see STYLE.md)."""

from __future__ import annotations

from celery import shared_task

from research.services import pseudonyms_assign


@shared_task(name="research.tasks.assign_pseudonyms")
def assign_pseudonyms() -> dict[str, int]:
    """The backstop sweep: pseudonyms for any patient or episode that came in without the creating receivers."""
    subjects, episodes = pseudonyms_assign(full=True)
    return {"subjects": subjects, "episodes": episodes}
