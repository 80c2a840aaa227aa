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
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import date
from statistics import NormalDist
from typing import Any

from django.db import connections, models
from django.db.models import F, Value
from django.db.models.expressions import RawSQL
from scipy import stats

import scoring
from outcomes.models import FollowUp, Score
from registry.dbsettings import local_settings
from registry.models import Administration, AdverseEvent, Joint, SubsequentSurgery
from registry.research.deid import ALIAS_PREFIX, TIMEPOINT_ORDER, DaysBetween

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


def _fetch(using: str, sql: str, params: Sequence[Any]) -> list[tuple]:
    """Run one summary statement. PostgreSQL would JIT-compile these (their estimated cost is above jit_above_cost
    at a registry's size), which takes longer than running them: 0.35 s became 1.9 s at 25,000 patients. Their
    hashes and sorts (about 140,000 episodes at 100,000 patients) spill to disk in the default 4 MB of work_mem.
    SET LOCAL keeps the settings to this transaction (the enclosing one, if a caller holds one open)."""
    with local_settings(using, jit="off", work_mem="32MB"), connections[using].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


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
class _Tally:
    """What the cells of one group (or of all groups) at one timepoint are computed from."""

    levels: list[float] = field(default_factory=list)
    level_subjects: set[int] = field(default_factory=set)
    changes: list[float] = field(default_factory=list)
    change_subjects: set[int] = field(default_factory=set)
    reached: int = 0
    with_threshold: int = 0
    without_threshold: int = 0
    mcii_subjects: set[int] = field(default_factory=set)
    threshold_joints: set[str] = field(default_factory=set)
    responders: int = 0
    determinate: int = 0
    indeterminate: int = 0
    responder_subjects: set[int] = field(default_factory=set)


@dataclass
class _Rows:
    """The pivoted episodes as fetched: each row is (episode, subject, joint, *group values, *slot values), the
    group values in columns 3 to `width` and then the values at the summary's (timepoint, key) slots (None:
    missing). Kept as the database's tuples: at a national registry's size (about 90,000 episodes) building a
    row object each costs more than the arithmetic."""

    rows: list[tuple]
    width: int

    def groups(self) -> set[tuple]:
        width = self.width
        return {row[3:width] for row in self.rows}


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

    `queryset` is the research treatments dataset (the episodes) or the scores dataset, already scoped
    (registry.research.access) and filtered on the episodes' columns."""
    definition = scoring.get_instrument(instrument)
    output = definition.output(key)
    if output.kind == "category":
        raise scoring.ScoringError(f"{instrument} {key} is a category; summaries need a numeric score")
    responder = RESPONDER_INPUTS.get(instrument)
    keys = {key} | ({responder[0], responder[1]} if responder else set())
    wanted = [tp for tp in TIMEPOINT_ORDER if timepoints is None or tp in set(timepoints)]
    # Only the timepoints shown and the baseline they are compared with: at a national registry's size the rows
    # read are most of the time of a summary.
    slots = [(tp, k) for tp in ["baseline", *wanted] for k in sorted(keys)]
    rows = _episode_scores(queryset, instrument, slots, group_by)
    group_keys = sorted(rows.groups(), key=_sort_key)

    thresholds = [t for t in scoring.find_thresholds(instrument, key, measure="mcii") if t.kind == mcii_kind]
    group_cells: dict[tuple, dict[str, dict[str, Cell | None]]] = {g: {} for g in group_keys}
    overall: dict[str, dict[str, Cell | None]] | None = {} if group_by else None
    for tp in wanted:
        tallies = _tally(rows, slots, tp, instrument, key, mcii_kind, responder)
        for g in group_keys:
            group_cells[g][tp] = _score_cells(tallies.get(g, _Tally()), tp, bool(thresholds), responder is not None)
        if overall is not None:
            overall[tp] = _score_cells(_pooled(tallies.values()), tp, bool(thresholds), responder is not None)
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


def _episode_scores(
    queryset: models.QuerySet, instrument: str, slots: Sequence[tuple[str, str]], group_by: Sequence[str]
) -> _Rows:
    """One row per episode with a score of `instrument` at the (timepoint, key) `slots`, with its values there.

    The long rows are pivoted in the database (one row per episode, a column per slot; one follow-up per
    episode and timepoint and one score per follow-up and key, so a slot holds at most one value): a fraction
    of the rows the long format would send. Given the episodes (the treatments dataset, as the summary view
    passes), the scores are read on their own: each score carries its episode and timepoint, so PostgreSQL takes
    the few columns it needs from the index on (instrument, key, timepoint) INCLUDE (episode_id, value), without
    the table or the follow-ups; the scores dataset's own joins (e.g. to the response, for the mode) stop it from
    doing so. The scores dataset (the dashboards pass it) gives the same rows."""
    connection = connections[queryset.db]
    qn = connection.ops.quote_name
    aliases = [_alias(g) for g in group_by]
    timepoints = sorted({tp for tp, _ in slots})
    keys = sorted({k for _, k in slots})
    fixed = ["sm_episode", "sm_subject", _alias("joint"), *aliases]
    slot_params = [p for slot in slots for p in slot]

    def pivot(timepoint: str, key: str, value: str) -> str:
        return ", ".join(
            f"MAX(CASE WHEN {timepoint} = %s AND {key} = %s THEN {value} END) AS v{i}" for i in range(len(slots))
        )

    # Only names from the models and the ORM's own SQL are formatted in; every value is a parameter.
    if queryset.model is Score:
        long = (
            queryset.filter(
                **{
                    _alias("instrument"): instrument,
                    f"{_alias('key')}__in": keys,
                    f"{_alias('timepoint')}__in": timepoints,
                }
            )
            .order_by()
            .annotate(sm_episode=F("follow_up__episode_id"), sm_subject=F("follow_up__episode__patient_id"))
            .values(*fixed, _alias("timepoint"), _alias("key"), _alias("value"))
        )
        long_sql, long_params = long.query.get_compiler(using=queryset.db).as_sql()
        grouped = ", ".join(f"s.{qn(c)}" for c in fixed)
        columns = pivot(*(f"s.{qn(_alias(c))}" for c in ("timepoint", "key", "value")))
        sql = f"SELECT {grouped}, {columns} FROM ({long_sql}) s GROUP BY {grouped}"  # noqa: S608
        params = [*slot_params, *long_params]
    else:
        # Pivoted per episode first, then joined to the episodes (one row each): the scores never meet the
        # episodes' joins row by row.
        episodes = queryset.order_by().annotate(sm_episode=F("pk"), sm_subject=F("patient_id")).values(*fixed)
        episodes_sql, episodes_params = episodes.query.get_compiler(using=queryset.db).as_sql()
        score_key = f"sc.{qn('key')}"
        pivoted = (
            f"SELECT sc.episode_id, {pivot('sc.timepoint', score_key, 'sc.value')}"  # noqa: S608
            f" FROM {qn(Score._meta.db_table)} sc"
            f" WHERE sc.instrument = %s AND {score_key} IN ({', '.join(['%s'] * len(keys))})"
            f" AND sc.timepoint IN ({', '.join(['%s'] * len(timepoints))}) GROUP BY sc.episode_id"
        )
        values = ", ".join(f"p.v{i}" for i in range(len(slots)))
        sql = (
            f"SELECT {', '.join(f'e.{qn(c)}' for c in fixed)}, {values} FROM ({episodes_sql}) e"  # noqa: S608
            f" INNER JOIN ({pivoted}) p ON p.episode_id = e.{qn('sm_episode')}"
        )
        params = [*episodes_params, *slot_params, instrument, *keys, *timepoints]
    return _Rows(_fetch(queryset.db, sql, params), len(fixed))


def _tally(
    rows: _Rows,
    slots: Sequence[tuple[str, str]],
    tp: str,
    instrument: str,
    key: str,
    kind: str,
    responder: tuple[str, str, bool] | None,
) -> dict[tuple, _Tally]:
    """One pass over the episodes: each group's tally at `tp` (the pooled tally is merged from these)."""
    width = rows.width
    index = {slot: width + i for i, slot in enumerate(slots)}
    i_after, i_before = index[(tp, key)], index[("baseline", key)]
    follow_up = tp != "baseline"
    if responder is not None:
        pain, function, invert = responder
        i_p0, i_p1 = index[("baseline", pain)], index[(tp, pain)]
        i_f0, i_f1 = index[("baseline", function)], index[(tp, function)]
    tallies: dict[tuple, _Tally] = {}
    for row in rows.rows:
        group = row[3:width]
        t = tallies.get(group)
        if t is None:
            t = tallies[group] = _Tally()
        subject = row[1]
        after = row[i_after]
        if after is not None:
            t.levels.append(after)
            t.level_subjects.add(subject)
        if not follow_up:
            continue
        before = row[i_before]
        if before is not None and after is not None:
            joint = row[2]
            t.changes.append(after - before)
            t.change_subjects.add(subject)
            mcii = _mcii(instrument, key, joint if joint in MCII_JOINTS else None, before, after, kind)
            if mcii is None:
                t.without_threshold += 1
            else:
                t.with_threshold += 1
                t.reached += mcii[0]
                t.mcii_subjects.add(subject)
                t.threshold_joints.add(mcii[1])
        if responder is None:
            continue
        p0, p1, f0, f1 = row[i_p0], row[i_p1], row[i_f0], row[i_f1]
        if p0 is None or p1 is None or f0 is None or f1 is None:
            continue
        if invert:
            p0, p1, f0, f1 = 100 - p0, 100 - p1, 100 - f0, 100 - f1
        status = _omeract(p0, p1, f0, f1)
        if isinstance(status, Exception):
            continue
        if status is None:
            t.indeterminate += 1
        else:
            t.determinate += 1
            t.responders += status
            t.responder_subjects.add(subject)
    return tallies


def _pooled(tallies: Iterable[_Tally]) -> _Tally:
    """The tally of all groups together: lists joined, counts added, subject sets united (a subject in two groups,
    e.g. with two products, counts once)."""
    everyone = _Tally()
    for t in tallies:
        for f in fields(_Tally):
            mine, theirs = getattr(everyone, f.name), getattr(t, f.name)
            if isinstance(mine, list):
                mine.extend(theirs)
            elif isinstance(mine, set):
                mine.update(theirs)
            else:
                setattr(everyone, f.name, mine + theirs)
    return everyone


def _score_cells(t: _Tally, tp: str, any_threshold: bool, responder: bool) -> dict[str, Cell | None]:
    follow_up = tp != "baseline"
    return {
        "level": _level_cell(t),
        "change": _change_cell(t) if follow_up else None,
        "mcii": _mcii_cell(t, any_threshold) if follow_up else None,
        "omeract_oarsi": _responder_cell(t) if follow_up and responder else None,
    }


def _level_cell(t: _Tally) -> Cell:
    subjects = len(t.level_subjects)
    return Cell(subjects, {"n": len(t.levels), "n_subjects": subjects, **mean_ci(t.levels)})


def _change_cell(t: _Tally) -> Cell:
    subjects = len(t.change_subjects)
    return Cell(subjects, {"n": len(t.changes), "n_subjects": subjects, **mean_ci(t.changes)})


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
def _omeract_one(before: float, after: float) -> tuple[bool, bool] | Exception:
    """(high improvement, moderate improvement) of one of pain and function (0-100, higher = worse), as
    scoring.omeract_oarsi_responder decides them, or its error. Per score rather than per (pain, function)
    pair: a score takes few distinct values, while the four together are nearly unique to each episode."""
    try:
        result = scoring.omeract_oarsi_responder(
            pain_baseline=before, pain_followup=after, function_baseline=before, function_followup=after
        )
    except scoring.ScoringError as exc:
        return exc
    return bool(result["high_pain"]), bool(result["pain_20"])


def _omeract(p0: float, p1: float, f0: float, f1: float) -> bool | None | Exception:
    """scoring.omeract_oarsi_responder()["responder"] without a patient global (Pham 2004), from its pain and
    function criteria (tests/research compares the two on random and boundary values)."""
    pain, function = _omeract_one(p0, p1), _omeract_one(f0, f1)
    if isinstance(pain, Exception):
        return pain
    if isinstance(function, Exception):
        return function
    if pain[0] or function[0]:
        return True
    if pain[1] and function[1]:
        return True
    if pain[1] or function[1]:
        return None  # one of the two met: the global decides, and it is missing
    return False


def _mcii_cell(t: _Tally, any_threshold: bool) -> Cell:
    reached, determinate = t.reached, t.with_threshold
    low, high = wilson(reached, determinate)
    return Cell(
        len(t.mcii_subjects),
        {
            "n": determinate,
            "n_subjects": len(t.mcii_subjects),
            "reached": reached,
            "share": reached / determinate if determinate else None,
            "ci_low": low,
            "ci_high": high,
            "n_without_threshold": t.without_threshold if any_threshold else None,
        },
        extra={"threshold_joints": sorted(t.threshold_joints)},
    )


def _responder_cell(t: _Tally) -> Cell:
    responders, determinate, indeterminate = t.responders, t.determinate, t.indeterminate
    low, high = wilson(responders, determinate)
    complete = determinate + indeterminate
    return Cell(
        len(t.responder_subjects),
        {
            "n": determinate,
            "n_subjects": len(t.responder_subjects),
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
        at_risk = n - left
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
        left += d + table.get((t, False), 0)
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
class Followed:
    """The episodes of one group: how many ended (duration in days, event) each way, and their subjects."""

    table: Counter[tuple[int, bool]] = field(default_factory=Counter)
    subjects: int = 0


def followed_counts(
    queryset: models.QuerySet, *, group_by: Sequence[str], censoring: str, today: date
) -> tuple[dict[tuple, Followed], Followed]:
    """Duration and event of every non-spine episode of a scoped, filtered treatments queryset, counted by group
    in the database: per group, and over all groups.

    One statement joins each released episode to its first arthroplasty and its last contact (each source
    aggregated per episode first, so PostgreSQL hashes them instead of looking up each episode), turns dates
    into days and groups by (group, duration, event): the rows sent are a few per group and day, not one per
    episode, and no date leaves the database. The same statement counts the distinct subjects."""
    connection = connections[queryset.db]
    qn = connection.ops.quote_name
    aliases = [_alias(g) for g in group_by]
    released = queryset.exclude(**{_alias("joint"): Joint.SPINE}).order_by()
    episodes = released.annotate(
        km_episode=F("pk"),
        km_subject=F("patient_id"),
        km_index=F("index_date"),
        km_horizon=DaysBetween(Value(today, output_field=models.DateField()), F("index_date")),
    ).values("km_episode", "km_subject", "km_index", "km_horizon", *aliases)
    compiler = episodes.query.get_compiler(using=queryset.db)
    episodes_sql, params = compiler.as_sql()
    params = list(params)

    def days(column: str) -> str:
        # Whole days from the index date, as the released datasets count them (registry.research.deid).
        # Column names only (no value): RawSQL here names a column of this statement.
        index = RawSQL(f"e.{qn('km_index')}", ())  # noqa: S611
        sql, _ = compiler.compile(DaysBetween(RawSQL(column, ()), index, output_field=models.IntegerField()))  # noqa: S611
        return sql

    greatest, least = ("MAX", "MIN") if connection.vendor == "sqlite" else ("GREATEST", "LEAST")
    surgery = SubsequentSurgery._meta.db_table
    arthroplasty = ", ".join(["%s"] * len(SubsequentSurgery.ARTHROPLASTY))
    joins = [
        f"LEFT JOIN (SELECT episode_id, MIN(CASE WHEN surgery_type IN ({arthroplasty}) THEN surgery_date END) AS"  # noqa: S608
        f" first_arthroplasty, MAX(surgery_date) AS last_date FROM {qn(surgery)} GROUP BY episode_id) s"
        f" ON s.episode_id = e.{qn('km_episode')}"
    ]
    join_params: list[Any] = list(SubsequentSurgery.ARTHROPLASTY)
    if censoring == "administrative":
        censored = f"{greatest}(0, e.{qn('km_horizon')})"
    else:
        joins += [
            f"LEFT JOIN (SELECT episode_id, MAX(days_from_index) AS last_day FROM {qn(FollowUp._meta.db_table)}"  # noqa: S608
            f" WHERE days_from_index IS NOT NULL GROUP BY episode_id) f ON f.episode_id = e.{qn('km_episode')}",
            f"LEFT JOIN (SELECT episode_id, MAX(administered_on) AS last_date FROM"  # noqa: S608
            f" {qn(Administration._meta.db_table)} GROUP BY episode_id) a ON a.episode_id = e.{qn('km_episode')}",
            f"LEFT JOIN (SELECT episode_id, MAX(onset_date) AS last_onset, MAX(resolution_date) AS last_resolution"  # noqa: S608
            f" FROM {qn(AdverseEvent._meta.db_table)} GROUP BY episode_id) v ON v.episode_id = e.{qn('km_episode')}",
        ]
        # The last day the registry knows of the episode, never before the index date, and never after today.
        known = ", ".join(
            f"COALESCE({c}, 0)"
            for c in (
                "f.last_day",
                days("a.last_date"),
                days("v.last_onset"),
                days("v.last_resolution"),
                days("s.last_date"),
            )
        )
        censored = f"{greatest}(0, {least}(e.{qn('km_horizon')}, {greatest}(0, {known})))"
    groups = "".join(f"e.{qn(a)}, " for a in aliases)
    nulls = "NULL, " * len(aliases)
    # The released episodes are read once (a CTE used three times is materialised): the counted durations, then
    # the distinct subjects of each group and of all groups.
    sql = (
        f"WITH e AS ({episodes_sql}) "  # noqa: S608
        f"SELECT 0, {groups}"
        f"CASE WHEN s.first_arthroplasty IS NULL THEN {censored}"
        f" ELSE {greatest}(0, {days('s.first_arthroplasty')}) END AS duration,"
        f" CASE WHEN s.first_arthroplasty IS NULL THEN 0 ELSE 1 END AS event, COUNT(*)"
        f" FROM e {' '.join(joins)} GROUP BY {groups}duration, event"
        f" UNION ALL SELECT 1, {groups}NULL, NULL, COUNT(DISTINCT e.{qn('km_subject')}) FROM e"  # noqa: S608
        + (f" GROUP BY {groups[:-2]}" if aliases else "")
        + f" UNION ALL SELECT 2, {nulls}NULL, NULL, COUNT(DISTINCT e.{qn('km_subject')}) FROM e"  # noqa: S608
    )
    by_group: dict[tuple, Followed] = defaultdict(Followed)
    overall = Followed()
    subjects: dict[tuple, int] = {}
    for part, *group, duration, event, count in _fetch(queryset.db, sql, [*params, *join_params]):
        if part == 0:
            by_group[tuple(group)].table[(duration, bool(event))] += count
            overall.table[(duration, bool(event))] += count
        elif part == 1:
            subjects[tuple(group)] = count
        else:
            overall.subjects = count
    for group, followed in by_group.items():
        followed.subjects = subjects[group]
    return dict(by_group), overall


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
    by_group, overall_followed = followed_counts(queryset, group_by=group_by, censoring=censoring, today=today)
    group_keys = sorted(by_group, key=_sort_key)
    cells = {g: _km_cell(by_group[g], days, min_cell) for g in group_keys}
    overall = _km_cell(overall_followed, days, min_cell) if group_by else None
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


def _km_cell(followed: Followed, days: Sequence[int], min_cell: int) -> Cell:
    table = followed.table
    km = kaplan_meier_counted(table)
    n_total = sum(table.values())

    def at_risk(day: int) -> int:
        return sum(n for (t, _), n in table.items() if t >= day)

    rows = []
    for day in days:
        n = at_risk(day)
        events = sum(n for (t, event), n in table.items() if event and t <= day)
        shown = n >= min_cell
        s, low, high = _km_at(km, day) if shown else (None, None, None)
        rows.append(
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
    curve = [{"day": 0, "survival": 1.0, "ci_low": 1.0, "ci_high": 1.0, "n_at_risk": n_total}]
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
        followed.subjects,
        {
            "n": n_total,
            "n_subjects": followed.subjects,
            "n_events": sum(n for (_, event), n in table.items() if event),
            "median_days": median,
            "table": rows,
            "curve": curve,
            "curve_truncated_after_day": truncated_after,
        },
    )
