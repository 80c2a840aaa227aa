"""The suite's clock (tests/conftest.py): every test sees the same day from 00:00 UTC, never ahead of the real
clock that subprocesses run on."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import time_machine

from tests.conftest import suite_clock_anchor


def test_a_test_runs_from_midnight_utc_of_the_real_day_and_never_ahead_of_it():
    now = datetime.now(tz=UTC)
    real = datetime.fromtimestamp(time_machine.escape_hatch.time.time(), tz=UTC)
    assert now <= real
    assert now.date() == date.today() == real.date() or now.date() == real.date() - timedelta(days=1)
    assert now - suite_clock_anchor(now) < timedelta(hours=2), "the suite's clock is not anchored at 00:00 UTC"


def test_the_anchor_is_that_day_at_midnight_utc_whatever_the_zone_of_the_moment():
    seoul_morning = datetime.fromisoformat("2026-12-05T07:30:00+09:00")  # 2026-12-04 22:30 UTC
    assert suite_clock_anchor(seoul_morning) == datetime(2026, 12, 4, tzinfo=UTC)
