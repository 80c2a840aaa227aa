"""Shared by the browser tests: Debian's Chromium driven by Playwright (never a downloaded browser). Skipped
where either is missing, unless REQUIRE_BROWSER=1 (CI) makes that a failure."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connections

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps calling out of this closed machine.
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def sync_playwright_or_skip():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    if sync_playwright is None or not os.path.exists(CHROMIUM):
        if os.environ.get("REQUIRE_BROWSER"):
            pytest.fail("REQUIRE_BROWSER is set but Playwright or /usr/bin/chromium is missing")
        pytest.skip("browser tests need `pip install playwright` and Debian's chromium")
    return sync_playwright


@contextlib.contextmanager
def playwright_session() -> Iterator[Any]:
    """`sync_playwright()` with Django's connections closed as it starts and before it stops.

    Playwright's sync API runs the test in a greenlet with its own context, so a database connection opened there
    is one that pytest-django's teardown and `connections.close_all()` outside never see. Left open, it outlives the
    test, and the next browser test on the same worker is handed it again, dead if anything (a database restart in
    tests/faults, say) ended it in between."""
    sync_playwright = sync_playwright_or_skip()
    with sync_playwright() as p:
        connections.close_all()
        try:
            yield p
        finally:
            connections.close_all()
