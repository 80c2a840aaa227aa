"""Text messages written to a folder, one file each (the demo's "phone": var/texts).

Each file is written whole under a temporary name and then renamed, so a reader never sees half a message."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings

from outcomes.texting import TextMessage, TextUnavailable
from outcomes.texting.backends.base import BaseTextBackend


class TextBackend(BaseTextBackend):
    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.folder = Path(str(kwargs.get("file_path") or settings.TEXT_FILE_PATH))

    def open(self) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise TextUnavailable(f"cannot create the text-message folder {self.folder}: {exc}") from exc

    def send(self, message: TextMessage) -> str:
        self.open()
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        ref = f"{stamp}-{uuid.uuid4().hex[:8]}"
        sender = message.sender or self.sender
        text = f"To: {message.to}\nFrom: {sender}\nDate: {datetime.now(UTC).isoformat()}\n\n{message.body}\n"
        target = self.folder / f"{ref}.txt"
        partial = self.folder / f".{ref}.part"
        try:
            partial.write_text(text, encoding="utf-8")
            os.replace(partial, target)
        except OSError as exc:
            raise TextUnavailable(f"cannot write {target}: {exc}") from exc
        return ref
