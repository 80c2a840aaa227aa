"""Time to arthroplasty: Kaplan-Meier by group from the treatment episodes, with the censoring rule and small
cells withheld (methods: research.summaries)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.db import connections, models
from django.db.models import F, Value
from django.db.models.expressions import RawSQL

from outcomes.models import FollowUp
from registry.models import Administration, AdverseEvent, Joint, SubsequentSurgery
from research.deid import DaysBetween
from research.summaries import alias, fetch, group_label, sort_key
from research.summaries.cellkey import COUNT, UNPERTURBED, CellKeyPerturbation
from research.summaries.statistics import (
    Cell,
    KaplanMeier,
    _km_at,
    kaplan_meier_counted,
    product_limit_step,
    suppress,
)

DEFAULT_KM_DAYS = (91, 182, 365, 730)


KM_METHODS = [
    "Unit of analysis: the treatment episode (a treated joint); spine episodes are left out.",
    "Event: the first total or partial arthroplasty of the treated joint; time from the index date in days.",
    "Censoring: last_contact (default) censors at the last day the registry knows of the episode (answered "
    "follow-up, administration, adverse event or other surgery); administrative censors at today.",
    "Kaplan-Meier product-limit estimate, Greenwood variance, log(-log) 95% CI (as lifelines, and R's survival with "
    'conf.type = "log-log"). Events precede censorings at tied times.',
    "Suppression: groups from fewer than min_cell_size subjects are withheld, with complementary suppression "
    "against the overall row; table rows and curve steps with fewer at risk than min_cell_size are withheld.",
    "For a summary-tier key: the numbers at risk and the events at each time, and every count, perturbed by cell "
    "key (disclosure_control), the curve computed from them; suppression decided on the true counts.",
]


@dataclass
class Followed:
    """The episodes of one group: how many ended (duration in days, event) each way, and their subjects."""

    table: Counter[tuple[int, bool]] = field(default_factory=Counter)
    subjects: int = 0
    # (duration, event, episode id) of each episode, read only for a perturbed summary (research.summaries.cellkey)
    records: list[tuple[int, bool, int]] = field(default_factory=list)


def followed_counts(
    queryset: models.QuerySet, *, group_by: Sequence[str], censoring: str, today: date, per_episode: bool = False
) -> tuple[dict[tuple, Followed], Followed]:
    """Duration and event of every non-spine episode of a scoped, filtered treatments queryset, counted by group
    in the database: per group, and over all groups.

    One statement joins each released episode to its first arthroplasty and its last contact (each source
    aggregated per episode first, so PostgreSQL hashes them instead of looking up each episode), turns dates
    into days and groups by (group, duration, event): the rows sent are a few per group and day, not one per
    episode, and no date leaves the database. The same statement counts the distinct subjects."""
    connection = connections[queryset.db]
    qn = connection.ops.quote_name
    aliases = [alias(g) for g in group_by]
    released = queryset.exclude(**{alias("joint"): Joint.SPINE}).order_by()
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
        # Whole days from the index date, as the released datasets count them (research.deid).
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
    # A perturbed summary needs each episode's cell key: one row per episode then, not per (duration, event).
    episode, by_episode = (f"e.{qn('km_episode')}", f", e.{qn('km_episode')}") if per_episode else ("NULL", "")
    # The released episodes are read once (a CTE used three times is materialised): the counted durations, then
    # the distinct subjects of each group and of all groups.
    sql = (
        f"WITH e AS ({episodes_sql}) "  # noqa: S608
        f"SELECT 0, {groups}"
        f"CASE WHEN s.first_arthroplasty IS NULL THEN {censored}"
        f" ELSE {greatest}(0, {days('s.first_arthroplasty')}) END AS duration,"
        f" CASE WHEN s.first_arthroplasty IS NULL THEN 0 ELSE 1 END AS event, COUNT(*), {episode}"
        f" FROM e {' '.join(joins)} GROUP BY {groups}duration, event{by_episode}"
        f" UNION ALL SELECT 1, {groups}NULL, NULL, COUNT(DISTINCT e.{qn('km_subject')}), NULL FROM e"  # noqa: S608
        + (f" GROUP BY {groups[:-2]}" if aliases else "")
        + f" UNION ALL SELECT 2, {nulls}NULL, NULL, COUNT(DISTINCT e.{qn('km_subject')}), NULL FROM e"  # noqa: S608
    )
    by_group: dict[tuple, Followed] = defaultdict(Followed)
    overall = Followed()
    subjects: dict[tuple, int] = {}
    for part, *group, duration, event, count, episode_id in fetch(queryset.db, sql, [*params, *join_params]):
        if part == 0:
            by_group[tuple(group)].table[(duration, bool(event))] += count
            overall.table[(duration, bool(event))] += count
            if episode_id is not None:
                by_group[tuple(group)].records.append((duration, bool(event), episode_id))
                overall.records.append((duration, bool(event), episode_id))
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
    perturb: bool = False,
) -> dict[str, Any]:
    """Kaplan-Meier time to arthroplasty by group, with a table at `days` and the curve's steps. `perturb`: from
    counts perturbed by cell key (a summary-tier key; research.summaries.cellkey), suppression on the true ones."""
    by_group, overall_followed = followed_counts(
        queryset, group_by=group_by, censoring=censoring, today=today, per_episode=perturb
    )
    perturbation = CellKeyPerturbation.for_episodes(queryset.values("pk"), min_cell=min_cell) if perturb else None
    group_keys = sorted(by_group, key=sort_key)
    cells = {g: _km_cell(by_group[g], days, min_cell, perturbation) for g in group_keys}
    overall = _km_cell(overall_followed, days, min_cell, perturbation) if group_by else None
    suppress(list(cells.values()), overall, min_cell)
    return {
        "event": "first total or partial arthroplasty of the treated joint",
        "time_origin": "index date (first administration), in days",
        "censoring": censoring,
        "excluded": "spine episodes (arthroplasty is not a spinal procedure)",
        "group_by": list(group_by),
        "days": list(days),
        "min_cell_size": min_cell,
        "disclosure_control": perturbation.describe() if perturbation is not None else UNPERTURBED,
        "methods": KM_METHODS,
        "groups": [{"group": group_label(group_by, g), **cells[g].render()} for g in group_keys],
        "overall": {"group": {}, **overall.render()} if overall else None,
    }


def _km_cell(
    followed: Followed, days: Sequence[int], min_cell: int, perturbation: CellKeyPerturbation | None = None
) -> Cell:
    table = followed.table
    km = kaplan_meier_counted(table) if perturbation is None else _perturbed_km(followed, perturbation, min_cell)
    n_total = sum(table.values())

    def at_risk(day: int) -> int:
        return sum(n for (t, _), n in table.items() if t >= day)

    def released(n: int, records: Sequence[int], shown: bool) -> int:
        return n if perturbation is None else perturbation.count(n, records, shown=shown)

    rows = []
    for day in days:
        n = at_risk(day)
        events = sum(n for (t, event), n in table.items() if event and t <= day)
        shown = n >= min_cell
        if perturbation is not None and shown:
            n = released(n, [e for t, _, e in followed.records if t >= day], True)
            events = min(n, released(events, [e for t, ev, e in followed.records if ev and t <= day], False))
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
    n_subjects, n_events = followed.subjects, sum(n for (_, event), n in table.items() if event)
    if perturbation is not None:
        shown = followed.subjects >= min_cell
        episodes = [e for _, _, e in followed.records]
        subjects = {perturbation.episode_subject[e] for e in episodes if e in perturbation.episode_subject}
        n_subjects = perturbation.count(n_subjects, subjects, subjects=True, shown=shown)
        curve[0]["n_at_risk"] = n_total = max(n_subjects, released(n_total, episodes, shown))
        n_events = min(n_total, released(n_events, [e for _, ev, e in followed.records if ev], False))
    return Cell(
        followed.subjects,
        {
            "n": n_total,
            "n_subjects": n_subjects,
            "n_events": n_events,
            "median_days": median,
            "table": rows,
            "curve": curve,
            "curve_truncated_after_day": truncated_after,
        },
    )


def _perturbed_km(followed: Followed, perturbation: CellKeyPerturbation, min_cell: int) -> KaplanMeier:
    """The product-limit estimate from perturbed counts: at each event time, those at risk and the events, each
    perturbed by the cell key of its own episodes (the at-risk set's key is a running sum over the episodes
    sorted by time, so a curve costs one pass). A step's numbers at risk below min_cell are not released
    (_km_cell withholds them on the true count)."""
    keys = perturbation.episode_keys
    records = sorted(followed.records, key=lambda r: r[0])
    total_key = sum(keys[e][COUNT] for _, _, e in records if e in keys)
    out = KaplanMeier([], [], [], [], [], [])
    s, greenwood = 1.0, 0.0
    n_left, key_left, i = len(records), total_key, 0
    while i < len(records):
        t = records[i][0]
        j = i
        events, event_key, gone_key = 0, 0, 0
        while j < len(records) and records[j][0] == t:
            k = keys.get(records[j][2], (0, 0, 0))[COUNT]
            gone_key += k
            if records[j][1]:
                events += 1
                event_key += k
            j += 1
        if events:
            at_risk = perturbation.count_by_key(n_left, key_left, shown=n_left >= min_cell)
            d = min(at_risk, perturbation.count_by_key(events, event_key))
            # The true number at risk decides where _km_cell cuts the curve; the released one is perturbed.
            s, greenwood = product_limit_step(
                out,
                s,
                greenwood,
                t,
                at_risk=at_risk,
                events=d,
                released_at_risk=n_left if n_left < min_cell else at_risk,
            )
        n_left -= j - i
        key_left -= gone_key
        i = j
    return out
