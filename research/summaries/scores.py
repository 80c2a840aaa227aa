"""Score summaries: each timepoint's level, change from baseline, MCII and OMERACT-OARSI responders by group,
with small cells suppressed (methods: research.summaries)."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from django.db import connections, models
from django.db.models import F

import scoring
from outcomes.models import Score
from research.deid import TIMEPOINT_ORDER
from research.summaries import alias, fetch, group_label, sort_key
from research.summaries.cellkey import UNPERTURBED, CellKeyPerturbation
from research.summaries.statistics import Cell, mean_ci, suppress, wilson

MCII_JOINTS = {"knee", "hip", "spine"}


# instrument -> (pain key, function key, scale is 0-100 higher = better and must be inverted)
RESPONDER_INPUTS: dict[str, tuple[str, str, bool]] = {
    "koos": ("pain", "adl", True),
    "hoos": ("pain", "adl", True),
    "womac": ("pain_0_100", "function_0_100", False),
    "womac_from_koos": ("pain_0_100", "function_0_100", False),
    "womac_from_hoos": ("pain_0_100", "function_0_100", False),
}


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
    # The episodes behind each count, for the cell keys of a perturbed summary (research.summaries.cellkey).
    level_episodes: list[int] = field(default_factory=list)
    change_episodes: list[int] = field(default_factory=list)
    reached_episodes: list[int] = field(default_factory=list)
    threshold_episodes: list[int] = field(default_factory=list)
    responder_episodes: list[int] = field(default_factory=list)
    determinate_episodes: list[int] = field(default_factory=list)
    indeterminate_episodes: list[int] = field(default_factory=list)


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
    perturb: bool = False,
) -> dict[str, Any]:
    """Per group and timepoint: level, change from baseline, MCII share and OMERACT-OARSI share of one score.

    `queryset` is the research treatments dataset (the episodes) or the scores dataset, already scoped
    (research.access) and filtered on the episodes' columns. `perturb`: cell-key perturbation (for a summary-tier
    key; research.summaries.cellkey), suppression still decided on the true counts."""
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
    group_keys = sorted(rows.groups(), key=sort_key)
    perturbation = None
    if perturb:
        ids = queryset.values("follow_up__episode_id" if queryset.model is Score else "pk")
        perturbation = CellKeyPerturbation.for_episodes(ids, min_cell=min_cell)
    bounds = (output.min, output.max)

    thresholds = [t for t in scoring.find_thresholds(instrument, key, measure="mcii") if t.kind == mcii_kind]
    group_cells: dict[tuple, dict[str, dict[str, Cell | None]]] = {g: {} for g in group_keys}
    overall: dict[str, dict[str, Cell | None]] | None = {} if group_by else None
    for tp in wanted:
        tallies = _tally(rows, slots, tp, instrument, key, mcii_kind, responder)
        for g in group_keys:
            tally = tallies.get(g, _Tally())
            group_cells[g][tp] = _score_cells(tally, tp, bool(thresholds), responder is not None)
            if perturbation is not None:
                _perturb(group_cells[g][tp], tally, perturbation, bounds, min_cell)
        if overall is not None:
            pooled = _pooled(tallies.values())
            overall[tp] = _score_cells(pooled, tp, bool(thresholds), responder is not None)
            if perturbation is not None:
                _perturb(overall[tp], pooled, perturbation, bounds, min_cell)
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

    groups = [{"group": group_label(group_by, g), "timepoints": render(group_cells[g])} for g in group_keys]
    return {
        "instrument": instrument,
        "instrument_name": definition.name,
        "key": key,
        "label": output.label,
        "direction": output.direction,
        "range": [output.min, output.max],
        "group_by": list(group_by),
        "min_cell_size": min_cell,
        "disclosure_control": perturbation.describe() if perturbation is not None else UNPERTURBED,
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
    aliases = [alias(g) for g in group_by]
    timepoints = sorted({tp for tp, _ in slots})
    keys = sorted({k for _, k in slots})
    fixed = ["sm_episode", "sm_subject", alias("joint"), *aliases]
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
                    alias("instrument"): instrument,
                    f"{alias('key')}__in": keys,
                    f"{alias('timepoint')}__in": timepoints,
                }
            )
            .order_by()
            .annotate(sm_episode=F("follow_up__episode_id"), sm_subject=F("follow_up__episode__patient_id"))
            .values(*fixed, alias("timepoint"), alias("key"), alias("value"))
        )
        long_sql, long_params = long.query.get_compiler(using=queryset.db).as_sql()
        grouped = ", ".join(f"s.{qn(c)}" for c in fixed)
        columns = pivot(*(f"s.{qn(alias(c))}" for c in ("timepoint", "key", "value")))
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
    return _Rows(fetch(queryset.db, sql, params), len(fixed))


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
            t.level_episodes.append(row[0])
        if not follow_up:
            continue
        before = row[i_before]
        if before is not None and after is not None:
            joint = row[2]
            t.changes.append(after - before)
            t.change_subjects.add(subject)
            t.change_episodes.append(row[0])
            mcii = _mcii(instrument, key, joint if joint in MCII_JOINTS else None, before, after, kind)
            if mcii is None:
                t.without_threshold += 1
            else:
                t.with_threshold += 1
                t.reached += mcii[0]
                t.threshold_episodes.append(row[0])
                if mcii[0]:
                    t.reached_episodes.append(row[0])
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
            t.indeterminate_episodes.append(row[0])
        else:
            t.determinate += 1
            t.responders += status
            t.determinate_episodes.append(row[0])
            if status:
                t.responder_episodes.append(row[0])
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


def _perturb(
    cells: dict[str, Cell | None],
    t: _Tally,
    perturbation: CellKeyPerturbation,
    bounds: tuple[float | None, float | None],
    min_cell: int,
) -> None:
    """The cells' numbers perturbed by cell key (research.summaries.cellkey), in place; `subjects` (which decides
    suppression) keeps the true count."""
    low, high = bounds
    if low is None or high is None:
        low, high = min(t.levels, default=0.0), max(t.levels, default=0.0)
    spread = float(high - low) or 1.0
    h = spread / 2
    level, change, mcii, responder = (cells[b] for b in ("level", "change", "mcii", "omeract_oarsi"))
    if level is not None:
        perturbation.level(
            level.numbers, t.level_episodes, t.level_subjects, h=h, bounds=(low, high), shown=level.subjects >= min_cell
        )
    if change is not None:
        perturbation.level(
            change.numbers,
            t.change_episodes,
            t.change_subjects,
            h=h,
            bounds=(-spread, spread),
            shown=change.subjects >= min_cell,
        )
    if mcii is not None:
        shown = mcii.subjects >= min_cell
        perturbation.share(
            mcii.numbers, "reached", t.threshold_episodes, t.reached_episodes, t.mcii_subjects, shown=shown
        )
        if mcii.numbers["n_without_threshold"] is not None:
            matched = set(t.threshold_episodes)
            unmatched = [e for e in t.change_episodes if e not in matched]
            mcii.numbers["n_without_threshold"] = perturbation.count(mcii.numbers["n_without_threshold"], unmatched)
    if responder is not None:
        n = responder.numbers
        perturbation.share(
            n, "responders", t.determinate_episodes, t.responder_episodes, t.responder_subjects,
            shown=responder.subjects >= min_cell,
        )  # fmt: skip
        n["n_indeterminate"] = perturbation.count(n["n_indeterminate"], t.indeterminate_episodes)
        complete = n["n"] + n["n_indeterminate"]
        n["share_lower_bound"] = n["responders"] / complete if complete else None
        n["share_upper_bound"] = (n["responders"] + n["n_indeterminate"]) / complete if complete else None


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
