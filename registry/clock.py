"""The registry's notion of "now".

In production it is the real time. In the demo (DEBUG only) `followups_run --now` can move it: the offset is kept
in a file under var/ so the web server, the worker and the command travel together, and invitations, links and
reminders can be watched months ahead. Tests move time with time-machine instead.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.utils import timezone


def _clock_file() -> Path:
    return Path(settings.VAR_DIR) / "demo-clock-offset"


def offset() -> timedelta:
    if not settings.DEBUG:
        return timedelta(0)
    try:
        return timedelta(seconds=float(_clock_file().read_text().strip()))
    except (OSError, ValueError):
        return timedelta(0)


def now() -> datetime:
    return timezone.now() + offset()


def set_demo_now(moment: datetime) -> timedelta:
    """Move the demo clock so that now() is `moment` (DEBUG only). Returns the offset."""
    if not settings.DEBUG:
        raise RuntimeError("The demo clock moves only with DEBUG on.")
    delta = moment - timezone.now()
    path = _clock_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(str(delta.total_seconds()))
    return delta


def reset_demo_clock() -> None:
    _clock_file().unlink(missing_ok=True)
