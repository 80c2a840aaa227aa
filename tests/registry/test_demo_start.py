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


def group_gone(pgid: int, seconds: float = 10.0) -> bool:
    """True once no process of the group is left (the web server and the worker included)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.2)
    return False


@pytest.mark.skipif(sys.version_info[:2] != (3, 11), reason="dev.py runs on Python 3.11")
@pytest.mark.parametrize("stop", ["ctrl-c", "kill"])
def test_the_demo_prints_its_address_once_it_answers_and_little_else(tmp_path, stop):
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
        if stop == "ctrl-c":  # as a person stops it: SIGINT to the whole group, as a terminal sends it
            os.killpg(demo.pid, signal.SIGINT)
        else:  # `kill PID` of dev.py alone: it must stop its web server and worker itself
            demo.send_signal(signal.SIGTERM)
        stopped_in = time.monotonic()
        returncode = demo.wait(timeout=45)
        stopped_in = time.monotonic() - stopped_in
        lines += [line.rstrip() for line in demo.stdout.read().splitlines()]
        left = not group_gone(demo.pid)
    finally:
        if demo.poll() is None or not group_gone(demo.pid, 0.5):
            os.killpg(demo.pid, signal.SIGKILL)
            demo.wait(timeout=10)
    output = "\n".join(lines)
    assert returncode == 0 and stopped_in < 45, (returncode, stopped_in, output)
    assert not left, "a process of the demo outlived it"
    assert "stopping the demo" in output and "the demo has stopped" in output, output
    with pytest.raises(OSError):  # nothing answers on the port any more
        urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
    assert answered, output
    assert f"http://127.0.0.1:{port}/admin/" in output
    assert "coord.hrj" in output and "rk_" in output  # the logins and the researcher's key
    for chatter in ("WARNING", "Performing system checks", "Starting development server", "Applying ", "AXES"):
        assert chatter not in output, (chatter, output)
    assert (tmp_path / "web.log").is_file() and (tmp_path / "demo-base-url").read_text().strip().endswith(str(port))
