"""The schedule's own guard on its windows (outcomes.schedule._check_windows, run at import) and their immutability,
on plain data: no database, so each mutant of outcomes/schedule.py is judged in seconds (mutation/schedule.toml).

The bounds themselves are pinned to the README's table by tests/outcomes/test_rules_pinned.py.
"""

import dataclasses

import pytest

from outcomes import schedule
from outcomes.schedule import Window


def test_overlapping_windows_are_refused(monkeypatch):
    monkeypatch.setattr(schedule, "WINDOWS", (Window("a", 0, 5, 10), Window("b", 10, 12, 20)))
    with pytest.raises(AssertionError, match="windows a and b overlap"):
        schedule._check_windows()
    monkeypatch.setattr(schedule, "WINDOWS", (Window("a", 0, 5, 12), Window("b", 10, 11, 20)))
    with pytest.raises(AssertionError, match="windows a and b overlap"):
        schedule._check_windows()


def test_a_target_outside_its_window_is_refused(monkeypatch):
    monkeypatch.setattr(schedule, "WINDOWS", (Window("a", 0, 11, 10),))
    with pytest.raises(AssertionError):
        schedule._check_windows()
    monkeypatch.setattr(schedule, "WINDOWS", (Window("a", 5, 4, 10),))
    with pytest.raises(AssertionError):
        schedule._check_windows()


def test_windows_that_touch_their_bounds_are_accepted(monkeypatch):
    # A target on the opening or closing day (baseline: day 0 is both target and close) and adjacent windows.
    monkeypatch.setattr(schedule, "WINDOWS", (Window("a", 0, 0, 5), Window("b", 6, 9, 9)))
    schedule._check_windows()


def test_a_window_cannot_be_changed_at_run_time():
    with pytest.raises(dataclasses.FrozenInstanceError):
        schedule.WINDOW_BY_TIMEPOINT["m12"].closes = 456  # type: ignore[misc]


@pytest.mark.parametrize(
    "day, timepoint",
    [(-91, None), (-90, "baseline"), (0, "baseline"), (1, None), (59, None), (60, "m3"), (120, "m3"), (121, None)]
    + [(149, None), (150, "m6"), (240, "m6"), (299, None), (300, "m12"), (450, "m12"), (451, None)]
    + [(629, None), (630, "m24"), (850, "m24"), (851, None)],
)
def test_a_day_belongs_to_the_window_that_holds_it_bounds_included(day, timepoint):
    assert schedule.timepoint_for_day(day) == timepoint
