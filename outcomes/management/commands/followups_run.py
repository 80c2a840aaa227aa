"""python manage.py followups_run [--now ISO-DATETIME] [--no-send]

One dispatcher pass, run here and now: for cron-based deployments, for operators, and for the demo's time travel.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from outcomes import dispatcher, outbox
from registry import clock


class Command(BaseCommand):
    help = "Run one follow-up dispatcher pass synchronously and print what it did."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--now",
            help="pretend it is this moment (ISO 8601, e.g. 2027-03-01T09:00); "
            "with DEBUG on, the demo's web server and worker follow",
        )
        parser.add_argument("--reset-clock", action="store_true", help="return the demo clock to the real time")
        parser.add_argument("--no-send", action="store_true", help="queue emails but do not send them here")

    def handle(self, *args: Any, **opts: Any) -> None:
        now = None
        if opts["reset_clock"]:
            clock.reset_demo_clock()
            self.stdout.write("Demo clock reset to the real time.")
        if opts["now"]:
            try:
                now = datetime.fromisoformat(opts["now"])
            except ValueError:
                raise CommandError(
                    f"--now must be an ISO 8601 date-time, e.g. 2027-03-01T09:00, not {opts['now']!r}"
                ) from None
            if timezone.is_naive(now):
                now = timezone.make_aware(now)
            if settings.DEBUG:
                clock.set_demo_now(now)
                self.stdout.write(f"Demo clock set to {now.isoformat()} (web server and worker follow it).")
        now = now or clock.now()
        report = dispatcher.dispatch(now=now)
        self.stdout.write(f"Dispatcher pass at {now.isoformat()}:")
        for line in report.lines():
            self.stdout.write(f"  {line}")
        if opts["no_send"]:
            return
        outcomes: dict[str, int] = {}
        for message_id in report.due:
            result = outbox.message_send(message_id=message_id, now=now)
            outcomes[result] = outcomes.get(result, 0) + 1
        if report.due:
            self.stdout.write("  sent here: " + ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items())))
