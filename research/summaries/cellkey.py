"""Cell-key perturbation of the aggregates released to summary-tier keys (the method of the Australian Bureau of
Statistics' TableBuilder; Fraser & Wooton 2005, Thompson, Broadfoot & Elazar 2013), on top of small-cell
suppression. The method and its cost are stated in research.summaries.

- Record keys: every record (a treatment episode, a subject) has fixed random keys, HMAC-SHA256 of its pseudonym
  under RESEARCH_CELL_KEY_SECRET, cut into 32-bit numbers (one for counts, one for means, one for SDs). The same
  record always has the same keys; without the secret they cannot be computed.
- Cell key: the sum of the keys of the cell's records, modulo 2**32. The same records give the same cell key, so
  the same query (or any query whose cell holds the same records) gets the same perturbation: repeating a query
  reveals nothing. Two cells that differ by a few records have unrelated cell keys.
- Perturbation table: for each true count n, a distribution over whole perturbations p in [-D, D]
  (D = RESEARCH_CELL_KEY_MAX_PERTURBATION), zero mean, variance V (RESEARCH_CELL_KEY_VARIANCE), the
  maximum-entropy one under those constraints, restricted so that n + p is never below 0 and, for a count that
  is shown, never below the suppression minimum (the variance is lowered near those bounds, where V is not
  attainable with zero mean). The cell key, read as a number in [0, 1), picks p from the cumulative
  distribution: a deterministic function of (cell key, count). A count of 0 stays 0.
- Means and SDs (the additive perturbation of magnitude cells): moved by xi * h / n', xi uniform on [-w, w],
  w = min(sqrt(3 V), D) (variance V), picked by the cell's second and third keys; h is half the score's range and
  n' the perturbed count. Confidence intervals are recomputed from the perturbed mean, SD and count. Shares are
  a perturbed numerator over a perturbed denominator. Kaplan-Meier (research.summaries.survival): the numbers at
  risk and the events at each time perturbed by their own episodes' keys, the curve computed from them.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
from django.conf import settings
from scipy import optimize, stats

from research.summaries.statistics import wilson

MODULUS = 1 << 32
COUNT, MEAN, SPREAD = 0, 1, 2  # which of a record's keys


def record_keys(secret: str, pseudonym: str) -> tuple[int, int, int]:
    digest = hmac.new(secret.encode(), pseudonym.encode(), hashlib.sha256).digest()
    return tuple(int.from_bytes(digest[i : i + 4], "big") for i in (0, 4, 8))  # type: ignore[return-value]


@functools.lru_cache(maxsize=64)
def perturbation_table(max_perturbation: int, variance: float, lowest: int) -> tuple[tuple[float, int], ...]:
    """The cumulative distribution ((cumulative probability, perturbation), ...) over [lowest, D], zero mean,
    variance min(V, 0.9 * -lowest * D) (the most a zero-mean law on [lowest, D] has is -lowest * D): the
    maximum-entropy law p(k) ~ exp(a k + b k^2) with those moments."""
    d = max_perturbation
    lowest = max(-d, min(0, lowest))
    if lowest == 0:
        return ((1.0, 0),)
    support = np.arange(lowest, d + 1, dtype=float)
    target = min(variance, 0.9 * -lowest * d)

    def dual(ab: np.ndarray) -> tuple[float, np.ndarray]:
        z = ab[0] * support + ab[1] * support**2
        top = z.max()
        w = np.exp(z - top)
        p = w / w.sum()
        value = top + math.log(w.sum()) - ab[1] * target
        return value, np.array([(p * support).sum(), (p * support**2).sum() - target])

    found = optimize.minimize(dual, np.zeros(2), jac=True, method="BFGS", options={"gtol": 1e-12, "maxiter": 500})
    z = found.x[0] * support + found.x[1] * support**2
    p = np.exp(z - z.max())
    p /= p.sum()
    cumulative = np.cumsum(p)
    cumulative[-1] = 1.0
    return tuple((float(c), int(k)) for c, k in zip(cumulative, support, strict=True))


def moments(table: tuple[tuple[float, int], ...]) -> tuple[float, float]:
    """Mean and variance of a perturbation table (for the tests and the documentation)."""
    previous, mean, square = 0.0, 0.0, 0.0
    for c, k in table:
        mean += (c - previous) * k
        square += (c - previous) * k * k
        previous = c
    return mean, square - mean * mean


def pick(table: tuple[tuple[float, int], ...], cell_key: int) -> int:
    u = cell_key / MODULUS
    for c, k in table:
        if u < c:
            return k
    return table[-1][1]


class CellKeyPerturbation:
    """The perturbation of one summary: the record keys of the episodes and subjects it reads, and the settings."""

    def __init__(
        self,
        *,
        secret: str,
        max_perturbation: int,
        variance: float,
        min_cell: int,
        episodes: Mapping[int, str],
        subjects: Mapping[int, str],
    ) -> None:
        self.d, self.v, self.min_cell = max_perturbation, variance, min_cell
        self.episode_keys = {pk: record_keys(secret, p) for pk, p in episodes.items()}
        self.subject_keys = {pk: record_keys(secret, p) for pk, p in subjects.items()}
        self.episode_subject: dict[int, int] = {}

    @classmethod
    def for_episodes(cls, episode_ids_query: Any, *, min_cell: int) -> CellKeyPerturbation:
        """Record keys of the episodes (and their subjects) that `episode_ids_query` (a values("…id") queryset)
        selects: one query of the pseudonym tables."""
        from research.models import EpisodePseudonym

        rows = EpisodePseudonym.objects.filter(episode_id__in=episode_ids_query).values_list(
            "episode_id", "pseudonym", "episode__patient_id", "episode__patient__research_pseudonym__pseudonym"
        )
        episodes, subjects, episode_subject = {}, {}, {}
        for episode, pseudonym, patient, subject in rows:
            episodes[episode] = pseudonym
            episode_subject[episode] = patient
            if subject is not None:
                subjects[patient] = subject
        made = cls(
            secret=settings.RESEARCH_CELL_KEY_SECRET,
            max_perturbation=settings.RESEARCH_CELL_KEY_MAX_PERTURBATION,
            variance=settings.RESEARCH_CELL_KEY_VARIANCE,
            min_cell=min_cell,
            episodes=episodes,
            subjects=subjects,
        )
        made.episode_subject = episode_subject
        return made

    def describe(self) -> dict[str, Any]:
        return describe(self.d, self.v)

    # Cell keys and perturbations ---------------------------------------------------------------------------

    def _cell_key(self, keys: Mapping[int, tuple[int, int, int]], records: Iterable[int], part: int) -> int:
        return sum(keys[r][part] for r in records if r in keys) % MODULUS

    def count(self, n: int, records: Iterable[int], *, subjects: bool = False, shown: bool = False) -> int:
        """The perturbed count of `records` (episode ids, or patient ids with subjects=True); a shown count is
        never moved below the suppression minimum, none below 0, and 0 stays 0."""
        key = self._cell_key(self.subject_keys if subjects else self.episode_keys, records, COUNT)
        return self.count_by_key(n, key, shown=shown)

    def count_by_key(self, n: int, cell_key: int, *, shown: bool = False) -> int:
        """`count` given the cell key (e.g. a running sum over records sorted by time)."""
        if n == 0:
            return 0
        floor = self.min_cell if shown and n >= self.min_cell else 0
        return n + pick(perturbation_table(self.d, self.v, max(-self.d, floor - n)), cell_key % MODULUS)

    def noise(self, records: Iterable[int], part: int) -> float:
        """xi, continuous and uniform on [-w, w] with w = min(sqrt(3 V), D) (variance V unless capped by D), from
        the cell's MEAN or SPREAD key. Continuous, not from the count's table: two cells' whole-number draws
        agree a quarter of the time, and then a difference of two means would cancel the noise."""
        width = min(math.sqrt(3 * self.v), self.d)
        u = self._cell_key(self.episode_keys, records, part) / MODULUS
        return width * (2 * u - 1)

    # Cells -------------------------------------------------------------------------------------------------

    def level(self, numbers: dict[str, Any], episodes: list[int], subjects: Iterable[int], *, h: float,
              bounds: tuple[float, float], shown: bool) -> None:  # fmt: skip
        """n, n_subjects, mean, SD and the t interval of a level or change cell, in place."""
        n_subjects = self.count(numbers["n_subjects"], subjects, subjects=True, shown=shown)
        n = max(self.count(numbers["n"], episodes, shown=shown), n_subjects)
        numbers["n"], numbers["n_subjects"] = n, n_subjects
        if numbers["mean"] is None or n == 0:
            return
        mean = min(bounds[1], max(bounds[0], numbers["mean"] + self.noise(episodes, MEAN) * h / n))
        numbers["mean"] = mean
        if numbers["sd"] is None or n < 2:
            numbers["sd"] = numbers["ci_low"] = numbers["ci_high"] = None
            return
        sd = max(0.0, numbers["sd"] + self.noise(episodes, SPREAD) * h / n)
        half = float(stats.t.ppf(0.975, n - 1)) * sd / math.sqrt(n)
        numbers.update(sd=sd, ci_low=mean - half, ci_high=mean + half)

    def share(self, numbers: dict[str, Any], part: str, denominator: list[int], numerator: list[int],
              subjects: Iterable[int], *, shown: bool) -> None:  # fmt: skip
        """n (the denominator), n_subjects, the numerator `part`, the share and its Wilson interval, in place."""
        n_subjects = self.count(numbers["n_subjects"], subjects, subjects=True, shown=shown)
        n = max(self.count(numbers["n"], denominator, shown=shown), n_subjects)
        k = min(n, self.count(numbers[part], numerator))
        low, high = wilson(k, n)
        numbers.update(n=n, n_subjects=n_subjects, share=k / n if n else None, ci_low=low, ci_high=high)
        numbers[part] = k


def describe(max_perturbation: int, variance: float) -> dict[str, Any]:
    """The `disclosure_control` of a summary answered to a summary-tier key."""
    return {
        "method": "cell-key perturbation (ABS TableBuilder), on top of small-cell suppression",
        "max_perturbation": max_perturbation,
        "variance": variance,
        "means": "mean and SD each moved by xi * (half the score's range) / n, xi uniform with variance `variance` "
        "(at most max_perturbation); intervals recomputed from the perturbed mean, SD and n; shares are perturbed "
        "counts over perturbed counts",
        "note": "The same query always gets the same answer; counts are within max_perturbation of the truth, "
        "never below 0 and, where shown, never below min_cell_size. Row-level keys get exact figures.",
    }


UNPERTURBED = {"method": "none: row-level key (exact figures)"}
