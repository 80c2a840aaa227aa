from __future__ import annotations

from django.conf import settings

from outcomes.texting import TextMessage


class BaseTextBackend:
    def __init__(self, **kwargs: object) -> None:
        self.sender = str(kwargs.get("sender") or settings.TEXT_FROM)

    def open(self) -> None:
        """Open the connection (a provider session); idempotent."""

    def close(self) -> None:
        pass

    def send(self, message: TextMessage) -> str:
        """Hand one message over; returns the provider's reference for it."""
        raise NotImplementedError
