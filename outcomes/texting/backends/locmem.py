"""Text messages kept in `outcomes.texting.outbox` (tests)."""

from __future__ import annotations

from dataclasses import replace

from outcomes import texting
from outcomes.texting import TextMessage
from outcomes.texting.backends.base import BaseTextBackend


class TextBackend(BaseTextBackend):
    def send(self, message: TextMessage) -> str:
        texting.outbox.append(replace(message, sender=message.sender or self.sender))
        return f"locmem-{len(texting.outbox)}"
