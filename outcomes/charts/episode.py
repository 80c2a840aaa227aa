"""The episode page's figures (staff): each instrument's scores over time, with the MCII band where published.

Pure functions on plain data (outcomes.dashboards.episode_charts fetches the rows)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext, pgettext

import scoring
from outcomes.charts import (
    DAYS_PER_MONTH,
    PALETTE,
    Chart,
    figure_layout,
    fmt_number,
    short_label,
    staff_direction_label,
    timepoint_label,
)
from outcomes.engine_words import staff

# The scores drawn per instrument on the episode page (the others are on the follow-up page).
HEADLINE_KEYS: dict[str, tuple[str, ...]] = {
    "koos": ("pain", "symptoms", "adl", "sport_rec", "qol"),
    "hoos": ("pain", "symptoms", "adl", "sport_rec", "qol"),
    "womac": ("pain_0_100", "function_0_100"),
    "womac_from_koos": ("pain_0_100", "function_0_100"),
    "womac_from_hoos": ("pain_0_100", "function_0_100"),
    "mhhs": ("mhhs",),
    "odi": ("odi",),
    "vas": ("vas_mm",),
    "nrs": ("nrs",),
    # The second set: the interval or summary scores, one scale and one direction per chart.
    "koos_jr": ("interval",),
    "koos_jr_from_koos": ("interval",),
    "hoos_jr": ("interval",),
    "hoos_jr_from_hoos": ("interval",),
    "koos12": ("pain", "function", "qol", "summary"),
    "koos12_from_koos": ("pain", "function", "qol", "summary"),
    "promis10": ("gph_t", "gmh_t"),
    "ikdc": ("ikdc",),
    "lysholm": ("lysholm",),
    "tegner": ("tegner",),
    "eq5d5l": ("index",),
}


INSTRUMENT_ORDER = [
    "koos",
    "hoos",
    "womac",
    "womac_from_koos",
    "womac_from_hoos",
    "koos_jr",
    "koos_jr_from_koos",
    "koos12",
    "koos12_from_koos",
    "hoos_jr",
    "hoos_jr_from_hoos",
    "ikdc",
    "lysholm",
    "tegner",
    "mhhs",
    "hhs",
    "odi",
    "vas",
    "nrs",
    "promis10",
    "eq5d5l",
]


def _unit_of(output: scoring.Output) -> str:
    """The unit as the scale reads: '0-100 mm', 'points, 0-100', '%'."""
    if output.unit:
        return output.unit
    if output.min is not None and output.max is not None:
        return gettext("points, %(min)s-%(max)s") % {"min": f"{output.min:g}", "max": f"{output.max:g}"}
    return gettext("points")


@dataclass(frozen=True)
class ScorePoint:
    """One stored score of an episode, as the episode chart needs it."""

    instrument: str
    key: str
    value: float | None
    timepoint: str
    day: int  # days from the index date
    mode: str = ""  # e.g. "Web (patient link)", "Phone"


def episode_charts(points: Iterable[ScorePoint], *, joint: str) -> list[Chart]:
    """One chart per instrument: its headline scores over months since the index date."""
    by_instrument: dict[str, list[ScorePoint]] = {}
    for p in points:
        if p.value is None:
            continue
        keys = HEADLINE_KEYS.get(p.instrument)
        if keys is not None and p.key not in keys:
            continue
        by_instrument.setdefault(p.instrument, []).append(p)
    ordered = sorted(by_instrument, key=lambda i: (INSTRUMENT_ORDER.index(i) if i in INSTRUMENT_ORDER else 99, i))
    charts = []
    for instrument in ordered:
        try:
            charts.append(instrument_chart(instrument, by_instrument[instrument], joint=joint))
        except scoring.ScoringError:
            continue  # an instrument or key the engine no longer knows: nothing sensible to draw
    return charts


def _headline_keys(instrument: str, present: set[str]) -> list[str]:
    definition = scoring.get_instrument(instrument)
    wanted = HEADLINE_KEYS.get(instrument)
    if wanted is None:
        wanted = tuple(o.key for o in definition.outputs if o.direction != "none" and o.kind != "category")[:3]
    return [k for k in wanted if k in present]


def mcii_threshold(instrument: str, key: str, joint: str) -> scoring.Threshold | None:
    """The absolute MCII published for this score at this joint, if any."""
    if joint not in ("knee", "hip", "spine"):
        return None
    try:
        rows = scoring.find_thresholds(instrument, key, joint, "mcii")
    except scoring.ScoringError:
        return None
    absolute = [t for t in rows if t.kind == "absolute"]
    return absolute[0] if absolute else None


def instrument_chart(instrument: str, points: Sequence[ScorePoint], *, joint: str) -> Chart:
    """Scores of one instrument over months since the index date; the baseline is marked, the MCII of the
    first score with a published threshold is a band from the baseline value to baseline + MCII (a follow-up
    point beyond the band's far edge is a clinically important improvement), and the axis says which way is
    better."""
    definition = scoring.get_instrument(instrument)
    keys = _headline_keys(instrument, {p.key for p in points})
    outputs = {k: definition.output(k) for k in keys}
    directions = {o.direction for o in outputs.values()}
    direction = directions.pop() if len(directions) == 1 else "none"
    units = {_unit_of(o) for o in outputs.values()}
    unit = units.pop() if len(units) == 1 else gettext("points")
    traces: list[dict[str, Any]] = []
    shapes: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    rows: list[list[str]] = []
    notes: list[str] = []
    band_drawn = False
    all_months = [p.day / DAYS_PER_MONTH for p in points]
    x_min = min([0.0, *all_months]) - 0.5
    x_max = max([3.0, *all_months]) + 0.5
    for i, key in enumerate(keys):
        colour = PALETTE[i % len(PALETTE)]
        mine = sorted((p for p in points if p.key == key), key=lambda p: p.day)
        output = outputs[key]
        name = staff(short_label(output.label))
        traces.append(
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": name,
                "x": [round(p.day / DAYS_PER_MONTH, 2) for p in mine],
                "y": [p.value for p in mine],
                "customdata": [[timepoint_label(p.timepoint), p.day, p.mode or "—"] for p in mine],
                "hovertemplate": f"<b>{name}</b>: %{{y:.1f}}<br>%{{customdata[0]}}, "
                + gettext("day %(n)s") % {"n": "%{customdata[1]}"}
                + "<br>"
                + gettext("entered: %(how)s") % {"how": "%{customdata[2]}"}
                + "<extra></extra>",
                "line": {"color": colour, "width": 2},
                "marker": {
                    "color": colour,
                    "size": [13 if p.timepoint == "baseline" else 8 for p in mine],
                    "symbol": ["diamond" if p.timepoint == "baseline" else "circle" for p in mine],
                },
            }
        )
        baseline = next((p.value for p in mine if p.timepoint == "baseline"), None)
        threshold = mcii_threshold(instrument, key, joint)
        latest = mine[-1] if mine and mine[-1].timepoint != "baseline" else None
        reached = ""
        if threshold is not None and baseline is not None and latest is not None:
            change = latest.value - baseline  # type: ignore[operator]
            improvement = -change if threshold.better == "lower" else change
            reached = (
                pgettext("MCII reached", "yes")
                if improvement >= float(threshold.value)
                else pgettext("MCII reached", "no")
            )
        rows.append(
            [
                name,
                fmt_number(baseline),
                fmt_number(latest.value if latest else None),
                timepoint_label(latest.timepoint) if latest else "—",
                f"{float(threshold.signed_value):+g}" if threshold else gettext("none published"),
                reached or "—",
            ]
        )
        if threshold is not None and baseline is not None and not band_drawn:
            band_drawn = True
            edge = baseline + float(threshold.signed_value)
            shapes.append(
                {
                    "type": "rect",
                    "xref": "x",
                    "yref": "y",
                    "x0": x_min,
                    "x1": x_max,
                    "y0": min(baseline, edge),
                    "y1": max(baseline, edge),
                    "fillcolor": colour,
                    "opacity": 0.12,
                    "line": {"width": 0},
                    "layer": "below",
                    "name": "mcii-band",
                }
            )
            annotations.append(
                {
                    "xref": "paper",
                    "x": 1,
                    "xanchor": "right",
                    "yref": "y",
                    "y": edge,
                    "yanchor": "bottom" if edge > baseline else "top",
                    "text": gettext("MCII %(score)s: %(change)s from baseline")
                    % {"score": name, "change": f"{float(threshold.signed_value):+g}"},
                    "showarrow": False,
                    "font": {"size": 11, "color": colour},
                }
            )
            notes.append(
                gettext(
                    "Shaded band: from the baseline %(score)s (%(baseline)s) to the minimal clinically important "
                    "improvement (%(change)s points; %(citation)s)."
                )
                % {
                    "score": name,
                    "baseline": f"{baseline:.1f}",
                    "change": f"{float(threshold.signed_value):+g}",
                    "citation": threshold.citation,
                }
            )
    shapes.append(
        {
            "type": "line",
            "xref": "x",
            "yref": "paper",
            "x0": 0,
            "x1": 0,
            "y0": 0,
            "y1": 1,
            "line": {"color": "#555", "width": 1, "dash": "dot"},
            "name": "index-date",
        }
    )
    annotations.append(
        {
            "xref": "x",
            "x": 0,
            "yref": "paper",
            "y": 1,
            "yanchor": "bottom",
            "text": gettext("index date"),
            "showarrow": False,
            "font": {"size": 11, "color": "#555"},
        }
    )
    y_range = _y_range(outputs.values())
    dir_text = staff_direction_label(direction)
    title = _abbreviation(staff(definition.name)) + (f" ({dir_text})" if dir_text else "")
    layout = figure_layout(
        title,
        gettext("Months since the index date (baseline ◆)"),
        gettext("Score (%(unit)s)") % {"unit": unit + (", " + dir_text if dir_text else "")},
        xaxis={"range": [x_min, x_max], "dtick": 3},
        yaxis={"range": y_range} if y_range else {},
        shapes=shapes,
        annotations=annotations,
        meta={"direction": direction},
    )
    summary = (
        "; ".join(
            gettext("%(score)s: baseline %(baseline)s, latest %(latest)s (%(at)s)")
            % {"score": r[0], "baseline": r[1], "latest": r[2], "at": r[3]}
            for r in rows
        )
        + "."
    )
    return Chart(
        id=f"episode-{instrument}",
        title=title,
        figure={"data": traces, "layout": layout},
        summary=summary,
        table_head=[
            pgettext("table heading", "Score"),
            gettext("Baseline"),
            gettext("Latest"),
            pgettext("table heading", "At"),
            gettext("MCII (points)"),
            gettext("MCII reached"),
        ],
        table_rows=rows,
        notes=notes,
    )


def _abbreviation(name: str) -> str:
    """'Knee injury and Osteoarthritis Outcome Score (KOOS)' -> 'KOOS'; names without one stay as they are."""
    if name.endswith(")") and "(" in name:
        inner = name[name.rindex("(") + 1 : -1]
        if inner and " " not in inner.split(",")[0]:
            return inner.split(",")[0]
    return name


def _y_range(outputs: Iterable[scoring.Output]) -> list[float] | None:
    lows = [o.min for o in outputs if o.min is not None]
    highs = [o.max for o in outputs if o.max is not None]
    if not lows or not highs:
        return None
    span = max(highs) - min(lows)
    return [min(lows) - span * 0.03, max(highs) + span * 0.03]
