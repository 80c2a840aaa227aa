"""The statistics of the summaries, on plain numbers: mean with its t interval, Wilson's interval, Kaplan-Meier
with Greenwood's variance and the log(-log) interval, and small-cell suppression (see research.summaries)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any

from scipy import stats

Z95 = NormalDist().inv_cdf(0.975)


def mean_ci(values: Sequence[float]) -> dict[str, float | None]:
    """Mean, SD (n - 1) and the 95% t interval; SD and CI are None for fewer than two values."""
    n = len(values)
    if n == 0:
        return {"mean": None, "sd": None, "ci_low": None, "ci_high": None}
    mean = math.fsum(values) / n
    if n < 2:
        return {"mean": mean, "sd": None, "ci_low": None, "ci_high": None}
    sd = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1))
    half = float(stats.t.ppf(0.975, n - 1)) * sd / math.sqrt(n)
    return {"mean": mean, "sd": sd, "ci_low": mean - half, "ci_high": mean + half}


def wilson(k: int, n: int) -> tuple[float | None, float | None]:
    """95% Wilson score interval for k successes in n."""
    if n == 0:
        return None, None
    p = k / n
    centre = (p + Z95**2 / (2 * n)) / (1 + Z95**2 / n)
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n * n)) / (1 + Z95**2 / n)
    # At 0 or n the bound is exactly 0 or 1; floating point would give 1e-17 or 0.9999999999999999.
    return (0.0 if k == 0 else max(0.0, centre - half)), (1.0 if k == n else min(1.0, centre + half))


@dataclass
class Cell:
    """One block of numbers computed from a set of subjects; `suppression` is set when it must be withheld."""

    subjects: int
    numbers: dict[str, Any]
    extra: dict[str, Any] = field(default_factory=dict)  # never withheld (e.g. which threshold applies)
    suppression: str | None = None

    def render(self) -> dict[str, Any]:
        if self.suppression is None:
            return {"suppressed": False, "suppression": None, **self.numbers, **self.extra}
        return {
            "suppressed": True,
            "suppression": self.suppression,
            **dict.fromkeys(self.numbers),
            **self.extra,
        }


def suppress(groups: Sequence[Cell | None], overall: Cell | None, min_cell: int) -> None:
    """Primary suppression of every cell under `min_cell` subjects, then complementary suppression: the overall
    cell is the sum of the groups, so if exactly one group is withheld while the overall is shown, withhold the
    smallest other group too."""
    cells = [c for c in groups if c is not None]
    for cell in [*cells, *([overall] if overall else [])]:
        if cell.subjects < min_cell:
            cell.suppression = f"primary: computed from fewer than {min_cell} subjects"
    if overall is None or overall.suppression is not None:
        return
    withheld = [c for c in cells if c.suppression is not None]
    if len(withheld) == 1:
        shown = sorted((c for c in cells if c.suppression is None), key=lambda c: c.subjects)
        if shown:
            shown[
                0
            ].suppression = "secondary: withheld so that the suppressed group cannot be derived from the overall row"


@dataclass(frozen=True)
class KaplanMeier:
    times: list[int]  # distinct event times, ascending
    survival: list[float]
    ci_low: list[float]
    ci_high: list[float]
    at_risk: list[int]
    events: list[int]


def kaplan_meier(durations: Sequence[int], observed: Sequence[bool]) -> KaplanMeier:
    """Product-limit estimate at each distinct event time, Greenwood variance, log(-log) 95% CI. At a tied
    time events come before censorings (the usual convention)."""
    return kaplan_meier_counted(Counter(zip(durations, (bool(o) for o in observed), strict=True)))


def kaplan_meier_counted(table: Mapping[tuple[int, bool], int]) -> KaplanMeier:
    """`kaplan_meier` from a counted table: (duration, event) -> number of episodes. A cohort's durations take
    few distinct values, so the database sends this table instead of one row per episode."""
    n = sum(table.values())
    out = KaplanMeier([], [], [], [], [], [])
    s, greenwood = 1.0, 0.0
    left = 0  # had the event or were censored before the current time
    for t in sorted({t for t, _ in table}):
        d = table.get((t, True), 0)
        if d:
            s, greenwood = product_limit_step(out, s, greenwood, t, at_risk=n - left, events=d)
        left += d + table.get((t, False), 0)
    return out


def product_limit_step(
    out: KaplanMeier,
    s: float,
    greenwood: float,
    t: int,
    *,
    at_risk: int,
    events: int,
    released_at_risk: int | None = None,
) -> tuple[float, float]:
    """One step of the product-limit estimate at time t: survival and the Greenwood sum move by `events` of
    `at_risk`, and the step is appended to `out` (its number at risk as `released_at_risk` when given). Returns
    the new (survival, Greenwood sum)."""
    if at_risk and events:
        s *= 1 - events / at_risk
        greenwood = greenwood + events / (at_risk * (at_risk - events)) if at_risk > events else math.inf
    low, high = _loglog_ci(s, greenwood)
    out.times.append(t)
    out.survival.append(s)
    out.ci_low.append(low)
    out.ci_high.append(high)
    out.at_risk.append(at_risk if released_at_risk is None else released_at_risk)
    out.events.append(events)
    return s, greenwood


def _loglog_ci(s: float, greenwood: float) -> tuple[float, float]:
    if s <= 0.0 or not math.isfinite(greenwood):
        return 0.0, 0.0
    if s >= 1.0:
        return 1.0, 1.0
    log_s = math.log(s)
    spread = Z95 * math.sqrt(greenwood) / log_s  # negative: log_s < 0
    return math.exp(-math.exp(math.log(-log_s) - spread)), math.exp(-math.exp(math.log(-log_s) + spread))


def _km_at(km: KaplanMeier, day: int) -> tuple[float, float, float]:
    s, low, high = 1.0, 1.0, 1.0
    for t, sv, lo, hi in zip(km.times, km.survival, km.ci_low, km.ci_high, strict=True):
        if t > day:
            break
        s, low, high = sv, lo, hi
    return s, low, high
