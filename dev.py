#!/usr/bin/env python3
"""Run the registry or its tests on a fresh machine that has only Python 3.11.

    python3 dev.py demo     # venv + install + migrate + demo data + worker/beat + web server
    python3 dev.py test     # the whole test suite (extra arguments go to pytest)

The virtual environment lives in .venv and is (re)installed when pyproject.toml changes.
Everything the demo writes (SQLite database, broker folders, emails) goes under var/, which git ignores.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
VAR = Path(os.environ.get("REGISTRY_VAR_DIR") or ROOT / "var")  # the settings read the same variable
PY = VENV / "bin" / "python"


def _say(msg: str) -> None:
    print(f"[dev] {msg}", flush=True)


def ensure_venv() -> None:
    if sys.version_info[:2] != (3, 11):
        sys.exit(f"dev.py needs Python 3.11 (this is {sys.version.split()[0]}): run it as python3.11 dev.py ...")
    if not PY.exists():
        _say(f"creating virtual environment in {VENV}")
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()[:16]
    stamp = VENV / f".installed-{digest}"
    if not stamp.exists():
        _say("installing the registry and its development dependencies (first run takes a minute)")
        subprocess.run([str(PY), "-m", "pip", "install", "-q", "--upgrade", "pip"], check=True)
        subprocess.run([str(PY), "-m", "pip", "install", "-q", "-e", f"{ROOT}[dev]"], check=True)
        for old in VENV.glob(".installed-*"):
            old.unlink()
        stamp.touch()


def manage(*args: str, env: dict[str, str] | None = None) -> None:
    subprocess.run([str(PY), str(ROOT / "manage.py"), *args], check=True, cwd=ROOT, env=env)


def demo_env() -> dict[str, str]:
    env = dict(os.environ)
    # The demo is a local, single-user affair: debug mode, SQLite, a folder as the Celery broker and emails
    # written to files. Anything already set in the environment wins.
    env.setdefault("DEBUG", "true")
    env.setdefault("EMAIL_BACKEND", "file")
    env.setdefault("EMAIL_FILE_PATH", str(VAR / "mail"))
    env.setdefault("TEXT_BACKEND", "file")
    env.setdefault("TEXT_FILE_PATH", str(VAR / "texts"))
    env.setdefault("CELERY_BROKER_URL", "filesystem://")
    env.setdefault("REGISTRY_BASE_URL", f"http://127.0.0.1:{os.environ.get('PORT', '8000')}")  # links in emails
    return env


def _stop(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def demo(argv: list[str]) -> int:
    # `kill PID` (SIGTERM), a closed terminal (SIGHUP) and Ctrl-C all stop the demo the same way, its web server
    # and worker with it; SIGINT too when a shell started the demo in the background and had it ignored.
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _stop)
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    ensure_venv()
    env = demo_env()
    port = os.environ.get("PORT", "8000")
    VAR.mkdir(exist_ok=True)
    # Every demo process reads this (project/settings.py), a `followups_run` in another terminal too.
    (VAR / "demo-base-url").write_text(env["REGISTRY_BASE_URL"] + "\n", encoding="utf-8")
    manage("migrate", "--noinput", "-v", "0", env=env)
    manage("seed_demo", "--patients", "240", "--seed", "42", "--sites", "2", env=env)
    manage("demo_users", env=env)
    VAR.mkdir(exist_ok=True)
    log = open(VAR / "celery.log", "ab")  # noqa: SIM115 - kept open for the worker's lifetime
    worker = subprocess.Popen(
        [
            str(PY),
            "-m",
            "celery",
            "-A",
            "project",
            "worker",
            "-B",
            "--loglevel",
            "INFO",
            "--concurrency",
            "1",
            "--schedule",
            str(VAR / "celerybeat-schedule"),
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    _say(f"Celery worker and beat started (pid {worker.pid}), log in {VAR / 'celery.log'}")
    _say(f"emails are written to {env['EMAIL_FILE_PATH']}")
    _say(f"text messages are written to {env['TEXT_FILE_PATH']}")
    # The web server's own output (request lines, library warnings) goes to its log; the address is printed once
    # the server answers, not before.
    web_log = open(VAR / "web.log", "ab")  # noqa: SIM115 - kept open for the server's lifetime
    web = subprocess.Popen(
        [str(PY), str(ROOT / "manage.py"), "runserver", "--noreload", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=web_log,
        stderr=subprocess.STDOUT,
    )
    try:
        if not _wait_until_answering(f"http://127.0.0.1:{port}/healthz", web):
            _say(f"the web server did not start; see {VAR / 'web.log'}")
            return 1
        _say(f"web server log in {VAR / 'web.log'}")
        print(f"\n  Open the registry at  http://127.0.0.1:{port}/admin/   (Ctrl-C stops the demo)\n", flush=True)
        return web.wait()
    except KeyboardInterrupt:
        # Ctrl-C reaches every process of the terminal's group; the worker finishes its task first (seconds).
        print(flush=True)  # past the ^C the terminal echoes
        _say("stopping the demo: the web server, then the worker (it finishes its current task first) ...")
        return 0
    finally:
        if web.poll() is None:
            web.send_signal(signal.SIGTERM)
            try:
                web.wait(timeout=15)
            except subprocess.TimeoutExpired:
                web.kill()
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            worker.kill()
        time.sleep(0.1)
        _say("the demo has stopped; its data stays in var/ for the next start")
    return 0


def _wait_until_answering(url: str, process: subprocess.Popen, seconds: float = 60.0) -> bool:
    import urllib.request

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:  # noqa: S310 - our own local server
                if answer.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.3)
    return False


def test(argv: list[str]) -> int:
    ensure_venv()
    if os.environ.get("TEST_COVERAGE") == "1":
        return _test_under_coverage(argv)
    return subprocess.run([str(PY), "-m", "pytest", *argv], cwd=ROOT).returncode


def _test_under_coverage(argv: list[str]) -> int:
    """TEST_COVERAGE=1: pytest under coverage.py ([tool.coverage] in pyproject.toml: branches, subprocesses),
    then the combined report, which fails below the floor (fail_under)."""
    coverage = [str(PY), "-m", "coverage"]
    subprocess.run([*coverage, "erase"], cwd=ROOT, check=True)
    tests = subprocess.run([*coverage, "run", "-m", "pytest", *argv], cwd=ROOT).returncode
    subprocess.run([*coverage, "combine", "-q"], cwd=ROOT, check=True)
    if os.environ.get("TEST_COVERAGE_TABLE", "1") == "1":
        subprocess.run([*coverage, "report", "--fail-under=0"], cwd=ROOT)
    total = subprocess.run([*coverage, "report", "--format=total"], cwd=ROOT, capture_output=True, text=True)
    lines = total.stdout.split("\n")
    _say(f"coverage: {lines[0].strip()}% of lines and branches (the floor is fail_under in pyproject.toml)")
    if total.returncode:
        _say(f"{' '.join(lines[1:]).strip() or total.stderr.strip()}: add tests, never lower the floor")
    return tests or total.returncode


def main() -> int:
    commands = {"demo": demo, "test": test}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        print(__doc__)
        return 2
    try:
        return commands[sys.argv[1]](sys.argv[2:])
    except KeyboardInterrupt:  # stopped before the demo's servers were up (they stop themselves once up)
        _say("stopped")
        return 130


if __name__ == "__main__":
    sys.exit(main())
