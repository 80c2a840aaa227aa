"""A reply to a text message, as the provider's webhook would deliver it (the demo, or staff told by phone)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from outcomes.texting.inbound import number_e164, reply_receive


class Command(BaseCommand):
    help = "Receive a reply to the registry's text messages, e.g. `text_reply +821012345678 STOP`."

    def add_arguments(self, parser) -> None:
        parser.add_argument("number", help="the patient's mobile number, with + and the country code")
        parser.add_argument("body", nargs="+", help="the reply's text")

    def handle(self, *args, number: str, body: list[str], **options) -> None:
        if not number.startswith("+") or not number_e164(number).startswith("+"):
            raise CommandError(f"“{number}” is not a number with + and a country code (e.g. +821012345678).")
        reply = reply_receive(from_number=number, body=" ".join(body))
        if not reply.stop:
            self.stdout.write("Not a STOP reply: nothing changed.")
        elif reply.patients:
            self.stdout.write(f"STOP: {reply.patients} patient(s) opted out; their unsent messages were cancelled.")
        else:
            self.stdout.write("STOP: no patient who was not already opted out has this number.")
