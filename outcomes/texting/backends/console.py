"""Text messages printed to standard output (development)."""

from __future__ import annotations

import sys
import uuid

from outcomes.texting import TextMessage
from outcomes.texting.backends.base import BaseTextBackend


class TextBackend(BaseTextBackend):
    def send(self, message: TextMessage) -> str:
        ref = f"console-{uuid.uuid4().hex[:12]}"
        sys.stdout.write(
            f"Text to {message.to} from {message.sender or self.sender} [{ref}]\n{message.body}\n{'-' * 40}\n"
        )
        sys.stdout.flush()
        return ref
