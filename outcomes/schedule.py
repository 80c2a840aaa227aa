"""Follow-up windows, in days from the index date (the first administration).

| timepoint | opens | target | closes | why |
|---|---|---|---|---|
| baseline | day -90 | day 0 | day 0 | before treatment: answers on the day of injection count as baseline |
| 3 months | day 60 | day 91 | day 120 | DOMAIN.md: "3 months: 2-4 months" |
| 6 months | day 150 | day 182 | day 240 | 5-8 months |
| 12 months | day 300 | day 365 | day 450 | 10-15 months |
| 24 months | day 630 | day 730 | day 850 | 21-28 months |

The windows never overlap, so an answer belongs to at most one timepoint; the gaps between them are days on which
an answer counts for no timepoint. These are the registry's defaults (documented in the README).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta


@dataclass(frozen=True)
class Window:
    timepoint: str
    opens: int
    target: int
    closes: int

    def dates(self, index_date: date) -> tuple[date, date, date]:
        return (
            index_date + timedelta(days=self.opens),
            index_date + timedelta(days=self.target),
            index_date + timedelta(days=self.closes),
        )


WINDOWS: tuple[Window, ...] = (
    Window("baseline", -90, 0, 0),
    Window("m3", 60, 91, 120),
    Window("m6", 150, 182, 240),
    Window("m12", 300, 365, 450),
    Window("m24", 630, 730, 850),
)
WINDOW_BY_TIMEPOINT = {w.timepoint: w for w in WINDOWS}


def _check_windows() -> None:
    for earlier, later in zip(WINDOWS, WINDOWS[1:], strict=False):
        assert earlier.closes < later.opens, f"windows {earlier.timepoint} and {later.timepoint} overlap"
    for w in WINDOWS:
        assert w.opens <= w.target <= w.closes


_check_windows()


def timepoint_for_day(day: int) -> str | None:
    """The timepoint whose window holds `day` (days from index), or None."""
    for w in WINDOWS:
        if w.opens <= day <= w.closes:
            return w.timepoint
    return None
