"""Group summaries a statistician can publish: scores by timepoint, change from baseline, clinically important
improvement, OMERACT-OARSI response, and time to arthroplasty (Kaplan-Meier), with small cells suppressed.

Methods (also returned with every summary, so a figure can always say how it was made):

- Unit of analysis: the treatment episode (a treated joint). A subject treated bilaterally contributes two
  episodes; each cell reports both `n` (episodes) and `n_subjects`. Confidence intervals treat episodes as
  independent.
- Mean with the SD (n - 1 denominator) and a 95% CI from Student's t with n - 1 degrees of freedom.
- Change from baseline: within episode, follow-up minus baseline, for episodes with both (complete pairs), with
  the same t interval.
- MCII: the share of complete pairs whose change reaches the published minimal clinically important improvement
  for the episode's joint (scoring.mcii_change: inclusive, exact). Each threshold is named with its citation.
  Pairs for which no threshold is published (e.g. KOOS at the hip) are counted apart. Shares carry a 95% Wilson
  score interval.
- OMERACT-OARSI responders (Pham 2004) where the instrument gives pain and function on a 0-100 scale: WOMAC
  (and WOMAC derived from KOOS/HOOS) pain and function 0-100; KOOS/HOOS pain and ADL as 100 - score. The
  registry records no patient global assessment, so a subject improving by 20% and 10 points in only one of pain
  and function is indeterminate (the global would decide); the share is over determinate pairs and the
  indeterminate are counted.
- Time to arthroplasty: from the index date to the first total or partial arthroplasty of the treated joint.
  Episodes without one are censored at the last day the registry knows about them (answered follow-up,
  administration, adverse event or other surgery), or with `censoring=administrative` at today. Spine episodes
  are left out (arthroplasty is not a spinal procedure). Kaplan-Meier estimate with Greenwood's variance and the
  log(-log) 95% CI (as lifelines and R's survival package with conf.type="log-log").
- Suppression: a cell computed from fewer than RESEARCH_MIN_CELL_SIZE subjects (default 11) is suppressed: its
  numbers are withheld and it is marked. When the summary is grouped, an "overall" row is given too; since the
  overall row is the sum of the groups, a single suppressed group could be derived from it and the others, so
  the smallest other group of that cell is suppressed as well (complementary suppression). Kaplan-Meier rows
  and curve steps with fewer subjects at risk than the threshold are withheld.
"""

from __future__ import annotations

import functools
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from statistics import NormalDist
from typing import Any

from django.db import models
from django.db.models import Max, Min
from scipy import stats

import scoring
from outcomes.models import FollowUp
from registry.models import Administration, AdverseEvent, Joint, SubsequentSurgery
from registry.research.deid import ALIAS_PREFIX, TIMEPOINT_ORDER

Z95 = NormalDist().inv_cdf(0.975)
GROUPS = ("product_type", "source", "kl_grade", "joint", "site")
MCII_JOINTS = {"knee", "hip", "spine"}
# instrument -> (pain key, function key, scale is 0-100 higher = better and must be inverted)
RESPONDER_INPUTS: dict[str, tuple[str, str, bool]] = {
    "koos": ("pain", "adl", True),
    "hoos": ("pain", "adl", True),
    "womac": ("pain_0_100", "function_0_100", False),
    "womac_from_koos": ("pain_0_100", "function_0_100", False),
    "womac_from_hoos": ("pain_0_100", "function_0_100", False),
}
DEFAULT_KM_DAYS = (91, 182, 365, 730)
SCORE_METHODS = [
    "Unit of analysis: the treatment episode (a treated joint); n counts episodes, n_subjects distinct subjects. "
    "Confidence intervals treat episodes as independent.",
    "Level: mean, SD (n - 1) and 95% CI from Student's t with n - 1 degrees of freedom.",
    "Change: follow-up minus baseline within episode, complete pairs only, with the same t interval.",
    "MCII: share of complete pairs whose change reaches the published threshold for the episode's joint "
    "(inclusive); pairs without a published threshold are counted in n_without_threshold; 95% Wilson interval.",
    "OMERACT-OARSI (Pham 2004) from pain and function 0-100 (higher = worse). No patient global is recorded, so a "
    "20%/10-point improvement in only one of pain and function is indeterminate: share is over determinate pairs, "
    "the bounds count the indeterminate as all non-responders or all responders; 95% Wilson interval.",
    "Suppression: cells from fewer than min_cell_size subjects are withheld (primary); when grouped, the overall "
    "row is shown and a second group is withheld if one alone would be derivable from it (secondary).",
]
KM_METHODS = [
    "Unit of analysis: the treatment episode (a treated joint); spine episodes are left out.",
    "Event: the first total or partial arthroplasty of the treated joint; time from the index date in days.",
    "Censoring: last_contact (default) censors at the last day the registry knows of the episode (answered "
    "follow-up, administration, adverse event or other surgery); administrative censors at today.",
    "Kaplan-Meier product-limit estimate, Greenwood variance, log(-log) 95% CI (as lifelines, and R's survival with "
    'conf.type = "log-log"). Events precede censorings at tied times.',
    "Suppression: groups from fewer than min_cell_size subjects are withheld, with complementary suppression "
    "against the overall row; table rows and curve steps with fewer at risk than min_cell_size are withheld.",
]


def _alias(name: str) -> str:
    return ALIAS_PREFIX + name


# Statistics -----------------------------------------------------------------------------------------------


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


# Cells and suppression ------------------------------------------------------------------------------------


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


def _group_label(group_by: Sequence[str], key: tuple) -> dict[str, Any]:
    return dict(zip(group_by, key, strict=True))


def _sort_key(key: tuple) -> tuple:
    return tuple((v is None, str(v)) for v in key)


# Scores ---------------------------------------------------------------------------------------------------


@dataclass
class _Episode:
    subject: int
    joint: str
    group: tuple
    values: dict[tuple[str, str], float] = field(default_factory=dict)


def score_summary(
    *,
    queryset: models.QuerySet,
    instrument: str,
    key: str,
    group_by: Sequence[str] = (),
    mcii_kind: str = "absolute",
    timepoints: Iterable[str] | None = None,
    min_cell: int,
) -> dict[str, Any]:
    """Per group and timepoint: level, change from baseline, MCII share and OMERACT-OARSI share of one score.

    `queryset` is the research scores dataset, already scoped (registry.research.access) and filtered."""
    definition = scoring.get_instrument(instrument)
    output = definition.output(key)
    if output.kind == "category":
        raise scoring.ScoringError(f"{instrument} {key} is a category; summaries need a numeric score")
    responder = RESPONDER_INPUTS.get(instrument)
    keys = {key} | ({responder[0], responder[1]} if responder else set())
    wanted = [tp for tp in TIMEPOINT_ORDER if timepoints is None or tp in set(timepoints)]
    # Only the timepoints shown and the baseline they are compared with: at a national registry's size the rows
    # read are most of the time of a summary.
    rows = (
        queryset.filter(
            **{
                _alias("instrument"): instrument,
                f"{_alias('key')}__in": sorted(keys),
                f"{_alias('timepoint')}__in": sorted({"baseline", *wanted}),
            }
        )
        .order_by()
        .values_list(
            "follow_up__episode_id",
            "follow_up__episode__patient_id",
            _alias("joint"),
            _alias("timepoint"),
            _alias("key"),
            _alias("value"),
            *(_alias(g) for g in group_by),
        )
    )
    episodes: dict[int, _Episode] = {}
    for episode_id, subject, joint, timepoint, score_key, value, *group in rows.iterator(chunk_size=5000):
        ep = episodes.get(episode_id)
        if ep is None:
            ep = episodes[episode_id] = _Episode(subject, joint, tuple(group))
        if value is not None:
            ep.values[(timepoint, score_key)] = value

    by_group: dict[tuple, list[_Episode]] = defaultdict(list)
    for ep in episodes.values():
        by_group[ep.group].append(ep)
    group_keys = sorted(by_group, key=_sort_key)

    thresholds = [t for t in scoring.find_thresholds(instrument, key, measure="mcii") if t.kind == mcii_kind]

    def cells_for(eps: list[_Episode]) -> dict[str, dict[str, Cell | None]]:
        out: dict[str, dict[str, Cell | None]] = {}
        for tp in wanted:
            out[tp] = {
                "level": _level_cell(eps, tp, key),
                "change": None if tp == "baseline" else _change_cell(eps, tp, key),
                "mcii": None if tp == "baseline" else _mcii_cell(eps, tp, instrument, key, mcii_kind, bool(thresholds)),
                "omeract_oarsi": None if tp == "baseline" or responder is None else _responder_cell(eps, tp, responder),
            }
        return out

    group_cells = {g: cells_for(by_group[g]) for g in group_keys}
    overall = cells_for(list(episodes.values())) if group_by else None
    for tp in wanted:
        for block in ("level", "change", "mcii", "omeract_oarsi"):
            suppress(
                [group_cells[g][tp][block] for g in group_keys],
                overall[tp][block] if overall else None,
                min_cell,
            )

    def render(cells: dict[str, dict[str, Cell | None]]) -> list[dict[str, Any]]:
        return [
            {"timepoint": tp, **{block: (c.render() if c else None) for block, c in cells[tp].items()}} for tp in wanted
        ]

    groups = [{"group": _group_label(group_by, g), "timepoints": render(group_cells[g])} for g in group_keys]
    return {
        "instrument": instrument,
        "instrument_name": definition.name,
        "key": key,
        "label": output.label,
        "direction": output.direction,
        "range": [output.min, output.max],
        "group_by": list(group_by),
        "min_cell_size": min_cell,
        "unit_of_analysis": "treatment episode (a treated joint); n_subjects counts distinct subjects",
        "mcii": {
            "kind": mcii_kind,
            "thresholds": [
                {
                    "joint": t.joint,
                    "value": float(t.value),
                    "signed_value": float(t.signed_value),
                    "kind": t.kind,
                    "better": t.better,
                    "population": t.population,
                    "citation": t.citation,
                }
                for t in thresholds
            ],
            "note": None
            if thresholds
            else f"No {mcii_kind} MCII is published for {instrument} {key} in the registry's threshold table.",
        },
        "omeract_oarsi": {
            "applicable": responder is not None,
            "inputs": None
            if responder is None
            else (
                f"{instrument} {responder[0]} and {responder[1]}"
                + (" as 100 - score (higher = worse)" if responder[2] else " (0-100, higher = worse)")
                + "; no patient global is recorded"
            ),
            "citation": scoring.OMERACT_OARSI_CITATION,
        },
        "methods": SCORE_METHODS,
        "groups": groups,
        "overall": {"group": {}, "timepoints": render(overall)} if overall else None,
    }


def _level_cell(eps: list[_Episode], tp: str, key: str) -> Cell:
    values = [ep.values[(tp, key)] for ep in eps if (tp, key) in ep.values]
    subjects = {ep.subject for ep in eps if (tp, key) in ep.values}
    return Cell(len(subjects), {"n": len(values), "n_subjects": len(subjects), **mean_ci(values)})


def _pairs(eps: list[_Episode], tp: str, key: str) -> list[tuple[_Episode, float, float]]:
    return [
        (ep, ep.values[("baseline", key)], ep.values[(tp, key)])
        for ep in eps
        if ("baseline", key) in ep.values and (tp, key) in ep.values
    ]


def _change_cell(eps: list[_Episode], tp: str, key: str) -> Cell:
    pairs = _pairs(eps, tp, key)
    subjects = {ep.subject for ep, _, _ in pairs}
    changes = [after - before for _, before, after in pairs]
    return Cell(len(subjects), {"n": len(changes), "n_subjects": len(subjects), **mean_ci(changes)})


@functools.lru_cache(maxsize=1 << 16)
def _mcii(instrument: str, key: str, joint: str | None, before: float, after: float, kind: str) -> tuple | None:
    """(reached, threshold's joint), or None without a threshold. Scores take few distinct values and the exact
    comparison is slow: remembered, the 12-month summary of 100,000 patients takes a fraction of the time."""
    try:
        result = scoring.mcii_change(instrument, key, joint, before, after, kind=kind)  # type: ignore[arg-type]
    except scoring.ScoringError:
        return None
    if result is None or result.reached is None:
        return None
    return bool(result.reached), result.threshold.joint


@functools.lru_cache(maxsize=1 << 16)
def _omeract(p0: float, p1: float, f0: float, f1: float) -> bool | None | Exception:
    try:
        return scoring.omeract_oarsi_responder(
            pain_baseline=p0, pain_followup=p1, function_baseline=f0, function_followup=f1
        )["responder"]
    except scoring.ScoringError as exc:
        return exc


def _mcii_cell(eps: list[_Episode], tp: str, instrument: str, key: str, kind: str, any_threshold: bool) -> Cell:
    reached = determinate = 0
    without = 0
    subjects: set[int] = set()
    joints: set[str] = set()
    for ep, before, after in _pairs(eps, tp, key):
        joint = ep.joint if ep.joint in MCII_JOINTS else None
        result = _mcii(instrument, key, joint, before, after, kind)
        if result is None:
            without += 1
            continue
        determinate += 1
        reached += result[0]
        subjects.add(ep.subject)
        joints.add(result[1])
    low, high = wilson(reached, determinate)
    return Cell(
        len(subjects),
        {
            "n": determinate,
            "n_subjects": len(subjects),
            "reached": reached,
            "share": reached / determinate if determinate else None,
            "ci_low": low,
            "ci_high": high,
            "n_without_threshold": without if any_threshold else None,
        },
        extra={"threshold_joints": sorted(joints)},
    )


def _responder_cell(eps: list[_Episode], tp: str, inputs: tuple[str, str, bool]) -> Cell:
    pain_key, function_key, invert = inputs
    responders = determinate = indeterminate = 0
    subjects: set[int] = set()

    def worse_is_higher(value: float) -> float:
        return 100 - value if invert else value

    for ep in eps:
        needed = [("baseline", pain_key), (tp, pain_key), ("baseline", function_key), (tp, function_key)]
        if not all(k in ep.values for k in needed):
            continue
        p0, p1, f0, f1 = (worse_is_higher(ep.values[k]) for k in needed)
        responder = _omeract(p0, p1, f0, f1)
        if isinstance(responder, Exception):
            continue
        if responder is None:
            indeterminate += 1
            continue
        subjects.add(ep.subject)
        determinate += 1
        responders += bool(responder)
    low, high = wilson(responders, determinate)
    complete = determinate + indeterminate
    return Cell(
        len(subjects),
        {
            "n": determinate,
            "n_subjects": len(subjects),
            "responders": responders,
            "share": responders / determinate if determinate else None,
            "ci_low": low,
            "ci_high": high,
            "n_indeterminate": indeterminate,
            # Bounds whatever the missing patient global would have said: indeterminate all non-responders, all
            # responders.
            "share_lower_bound": responders / complete if complete else None,
            "share_upper_bound": (responders + indeterminate) / complete if complete else None,
        },
    )


# Time to arthroplasty -------------------------------------------------------------------------------------


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
    pairs = sorted(zip(durations, observed, strict=True))
    n = len(pairs)
    out = KaplanMeier([], [], [], [], [], [])
    s, greenwood = 1.0, 0.0
    i = 0
    while i < n:
        t = pairs[i][0]
        j = i
        d = 0
        while j < n and pairs[j][0] == t:
            d += pairs[j][1]
            j += 1
        at_risk = n - i
        if d:
            s *= 1 - d / at_risk
            greenwood = greenwood + d / (at_risk * (at_risk - d)) if at_risk > d else math.inf
            low, high = _loglog_ci(s, greenwood)
            out.times.append(t)
            out.survival.append(s)
            out.ci_low.append(low)
            out.ci_high.append(high)
            out.at_risk.append(at_risk)
            out.events.append(d)
        i = j
    return out


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


@dataclass
class _Followed:
    subject: int
    group: tuple
    duration: int
    event: bool


def followed_episodes(
    queryset: models.QuerySet, *, group_by: Sequence[str], censoring: str, today: date
) -> list[_Followed]:
    """Duration and event of every non-spine episode of a scoped, filtered treatments queryset. Dates are read
    here and turned into days; none leaves this function."""
    episodes = list(
        queryset.exclude(**{_alias("joint"): Joint.SPINE})
        .order_by()
        .values_list("pk", "patient_id", "index_date", *(_alias(g) for g in group_by))
    )
    ids = queryset.exclude(**{_alias("joint"): Joint.SPINE}).order_by().values("pk")
    first_arthroplasty = dict(
        SubsequentSurgery.objects.filter(episode__in=ids, surgery_type__in=SubsequentSurgery.ARTHROPLASTY)
        .order_by()
        .values("episode_id")
        .annotate(day=Min("surgery_date"))
        .values_list("episode_id", "day")
    )
    last_day: dict[int, int] = defaultdict(int)  # days from index
    last_date: dict[int, list[date]] = defaultdict(list)
    if censoring == "last_contact":
        for episode_id, day in (
            FollowUp.objects.filter(episode__in=ids, days_from_index__isnull=False)
            .order_by()
            .values("episode_id")
            .annotate(day=Max("days_from_index"))
            .values_list("episode_id", "day")
        ):
            last_day[episode_id] = max(last_day[episode_id], day)
        for model, fields in (
            (Administration, ["administered_on"]),
            (AdverseEvent, ["onset_date", "resolution_date"]),
            (SubsequentSurgery, ["surgery_date"]),
        ):
            for episode_id, *dates in (
                model.objects.filter(episode__in=ids)
                .order_by()
                .values("episode_id")
                .annotate(**{f"last_{f}": Max(f) for f in fields})
                .values_list("episode_id", *(f"last_{f}" for f in fields))
            ):
                last_date[episode_id].extend(d for d in dates if d is not None)
    out = []
    for episode_id, subject, index_date, *group in episodes:
        horizon = (today - index_date).days
        surgery = first_arthroplasty.get(episode_id)
        if surgery is not None:
            out.append(_Followed(subject, tuple(group), max(0, (surgery - index_date).days), True))
            continue
        if censoring == "administrative":
            duration = horizon
        else:
            known = [last_day[episode_id], *((d - index_date).days for d in last_date[episode_id])]
            duration = min(horizon, max(known))
        out.append(_Followed(subject, tuple(group), max(0, duration), False))
    return out


def arthroplasty_summary(
    *,
    queryset: models.QuerySet,
    group_by: Sequence[str] = (),
    days: Sequence[int] = DEFAULT_KM_DAYS,
    censoring: str = "last_contact",
    min_cell: int,
    today: date,
) -> dict[str, Any]:
    """Kaplan-Meier time to arthroplasty by group, with a table at `days` and the curve's steps."""
    followed = followed_episodes(queryset, group_by=group_by, censoring=censoring, today=today)
    by_group: dict[tuple, list[_Followed]] = defaultdict(list)
    for f in followed:
        by_group[f.group].append(f)
    group_keys = sorted(by_group, key=_sort_key)
    cells = {g: _km_cell(by_group[g], days, min_cell) for g in group_keys}
    overall = _km_cell(followed, days, min_cell) if group_by else None
    suppress(list(cells.values()), overall, min_cell)
    return {
        "event": "first total or partial arthroplasty of the treated joint",
        "time_origin": "index date (first administration), in days",
        "censoring": censoring,
        "excluded": "spine episodes (arthroplasty is not a spinal procedure)",
        "group_by": list(group_by),
        "days": list(days),
        "min_cell_size": min_cell,
        "methods": KM_METHODS,
        "groups": [{"group": _group_label(group_by, g), **cells[g].render()} for g in group_keys],
        "overall": {"group": {}, **overall.render()} if overall else None,
    }


def _km_cell(followed: list[_Followed], days: Sequence[int], min_cell: int) -> Cell:
    km = kaplan_meier([f.duration for f in followed], [f.event for f in followed])
    durations = sorted(f.duration for f in followed)
    subjects = {f.subject for f in followed}

    def at_risk(day: int) -> int:
        return sum(1 for d in durations if d >= day)

    table = []
    for day in days:
        n = at_risk(day)
        events = sum(1 for f in followed if f.event and f.duration <= day)
        shown = n >= min_cell
        s, low, high = _km_at(km, day) if shown else (None, None, None)
        table.append(
            {
                "day": day,
                "n_at_risk": n if shown else None,
                "cumulative_events": events if shown else None,
                "survival": s,
                "ci_low": low,
                "ci_high": high,
                "suppressed": not shown,
            }
        )
    curve = [{"day": 0, "survival": 1.0, "ci_low": 1.0, "ci_high": 1.0, "n_at_risk": len(followed)}]
    truncated_after = None
    for t, s, low, high, n in zip(km.times, km.survival, km.ci_low, km.ci_high, km.at_risk, strict=True):
        if n < min_cell:
            truncated_after = curve[-1]["day"]
            break
        curve.append({"day": t, "survival": s, "ci_low": low, "ci_high": high, "n_at_risk": n})
    median = next((t for t, s in zip(km.times, km.survival, strict=True) if s <= 0.5), None)
    if median is not None and truncated_after is not None and median > truncated_after:
        median = None
    return Cell(
        len(subjects),
        {
            "n": len(followed),
            "n_subjects": len(subjects),
            "n_events": sum(f.event for f in followed),
            "median_days": median,
            "table": table,
            "curve": curve,
            "curve_truncated_after_day": truncated_after,
        },
    )
