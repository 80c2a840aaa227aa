"""`python3 dev.py demo` as a new user runs it: the address is printed only once the server answers, and what it
prints is what a person needs (logins, API key, address), not the libraries' start-up chatter. Run in a folder of
its own (REGISTRY_VAR_DIR), on SQLite and a folder broker whatever the suite's own database is."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(sys.version_info[:2] != (3, 11), reason="dev.py runs on Python 3.11")
def test_the_demo_prints_its_address_once_it_answers_and_little_else(tmp_path):
    port = free_port()
    env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", str(tmp_path)),
        "PORT": str(port),
        "REGISTRY_VAR_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}",
        "CELERY_BROKER_URL": "filesystem://",
    }
    demo = subprocess.Popen(
        [sys.executable, str(ROOT / "dev.py"), "demo"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    answered = False
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            line = demo.stdout.readline()
            if not line:
                break
            lines.append(line.rstrip())
            if "Open the registry at" in line:
                # Printed only now: the server must answer at once.
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as answer:
                    answered = answer.status == 200
                break
    finally:
        os.killpg(demo.pid, signal.SIGTERM)
        try:
            demo.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(demo.pid, signal.SIGKILL)
    output = "\n".join(lines)
    assert answered, output
    assert f"http://127.0.0.1:{port}/admin/" in output
    assert "coord.hrj" in output and "rk_" in output  # the logins and the researcher's key
    for chatter in ("WARNING", "Performing system checks", "Starting development server", "Applying ", "AXES"):
        assert chatter not in output, chatter
    assert (tmp_path / "web.log").is_file() and (tmp_path / "demo-base-url").read_text().strip().endswith(str(port))
