"""A text-message backend for the fault tests, loaded by the worker subprocess: it delivers by appending the number
to FAULTS_TEXT_DIR/delivered, and, when FAULTS_TEXT_DIR/hold exists, holds the first message it is handed (after
writing FAULTS_TEXT_DIR/in_send) until FAULTS_TEXT_DIR/release appears, then refuses it as unavailable: a provider
that has the request and has not answered."""

from __future__ import annotations

import os
import time
from pathlib import Path

from outcomes.texting import TextMessage, TextUnavailable
from outcomes.texting.backends.base import BaseTextBackend

HOLD_SECONDS = 15.0


class HoldingTextBackend(BaseTextBackend):
    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.folder = Path(os.environ["FAULTS_TEXT_DIR"])

    def send(self, message: TextMessage) -> str:
        if (self.folder / "hold").exists() and not (self.folder / "in_send").exists():
            (self.folder / "in_send").write_text(message.to)
            deadline = time.monotonic() + HOLD_SECONDS
            while not (self.folder / "release").exists() and time.monotonic() < deadline:
                time.sleep(0.05)
            raise TextUnavailable("held by the test and not accepted")
        with (self.folder / "delivered").open("a") as f:
            f.write(message.to + "\n")
            f.flush()
            os.fsync(f.fileno())
        return f"sink-{message.to}"


def delivered(folder: Path) -> list[str]:
    path = folder / "delivered"
    return path.read_text().split() if path.exists() else []
