"""Text messages (SMS): a message, and backends chosen by settings in the manner of Django's email backends.

    TEXT_BACKEND = "outcomes.texting.backends.filebased.TextBackend"   # or console, locmem, twilio

A backend opens once per batch, sends messages one at a time and closes. `send` returns the provider's reference
for the message and raises `TextRefused` when the provider will never take this message (an invalid or
unsubscribed number: permanent, shown to staff) and `TextUnavailable` when it cannot take it now (network, rate
limit, outage: retried with back-off).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.utils.module_loading import import_string


@dataclass(frozen=True)
class TextMessage:
    to: str  # E.164
    body: str
    sender: str = ""  # the From number or sender id; the backend's default when empty


class TextError(Exception):
    pass


class TextRefused(TextError):
    """The provider will never deliver this message (bad number, the recipient unsubscribed)."""

    def __init__(self, reason: str, *, unsubscribed: bool = False) -> None:
        super().__init__(reason)
        self.unsubscribed = unsubscribed


class TextUnavailable(TextError):
    """The provider cannot take the message now; try again later."""


def get_connection(backend: str | None = None, **kwargs: object):  # -> BaseTextBackend
    return import_string(backend or settings.TEXT_BACKEND)(**kwargs)


# The in-memory backend's outbox (tests), as django.core.mail.outbox.
outbox: list[TextMessage] = []
