"""Plotly figures for staff, researchers and patients, built as plain JSON-able dicts.

Pure functions on plain data: no queries, no requests (the views in outcomes.dashboards and
outcomes.patient_views fetch the rows and pass them in). Each builder returns a `Chart`: the figure (a dict
plotly.js draws with Plotly.newPlot), a title for the <figcaption>, and a text summary and table for screen
readers. Pages embed the figure with `json_script` and draw it with static/outcomes/charts.js, so no inline
script is needed under the registry's Content-Security-Policy.

Every figure has a title and axis titles with units; no external fonts, images or map tiles.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import scoring

DAYS_PER_MONTH = 30.4375
TIMEPOINT_MONTHS = {"baseline": 0, "m3": 3, "m6": 6, "m12": 12, "m24": 24}
TIMEPOINT_LABELS = {"baseline": "Baseline", "m3": "3 months", "m6": "6 months", "m12": "12 months", "m24": "24 months"}
# Colour-blind-safe palette (Okabe-Ito), readable on white.
PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442"]
FONT = {"family": "system-ui, -apple-system, Segoe UI, Roboto, Arial, sans-serif", "size": 13, "color": "#222"}
PLOTLY_CONFIG = {"displaylogo": False, "responsive": True}

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
}
INSTRUMENT_ORDER = ["koos", "hoos", "womac", "womac_from_koos", "womac_from_hoos", "mhhs", "hhs", "odi", "vas", "nrs"]


@dataclass
class Chart:
    """One figure and its accessible text."""

    id: str
    title: str
    figure: dict[str, Any]
    summary: str = ""
    table_head: list[str] = field(default_factory=list)
    table_rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # Staff charts show their title inside the plot and keep the <figcaption> for screen readers; the patient's
    # chart shows the caption in large type instead (a plot title would be cut on a phone).
    caption_visible: bool = False
    # Shown under the plot, not folded away: the Kaplan-Meier numbers at risk, as journals print them.
    open_table_title: str = ""
    open_table_head: list[str] = field(default_factory=list)
    open_table_rows: list[list[str]] = field(default_factory=list)

    @property
    def json_id(self) -> str:
        """The id of the <script type="application/json"> element holding the figure."""
        return f"fig-{self.id}"

    @property
    def trace_count(self) -> int:
        return len(self.figure["data"])


def _layout(title: str, x_title: str, y_title: str, **extra: Any) -> dict[str, Any]:
    layout: dict[str, Any] = {
        "title": {"text": title, "x": 0.01, "xanchor": "left"},
        "font": FONT,
        "xaxis": {"title": {"text": x_title}, "zeroline": False, "automargin": True},
        "yaxis": {"title": {"text": y_title}, "zeroline": False, "automargin": True},
        "margin": {"l": 60, "r": 20, "t": 50, "b": 50},
        "hovermode": "closest",
        "paper_bgcolor": "#fff",
        "plot_bgcolor": "#fff",
        "height": 420,
    }
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(layout.get(key), dict):
            layout[key] = {**layout[key], **value}
        else:
            layout[key] = value
    for axis in ("xaxis", "yaxis"):
        layout[axis].setdefault("gridcolor", "#e5e8ec")
    return layout


def _fmt(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def direction_label(direction: str) -> str:
    return {"higher_better": "higher = better", "higher_worse": "higher = worse"}.get(direction, "")


def _unit_of(output: scoring.Output) -> str:
    """The unit as the scale reads: '0-100 mm', 'points, 0-100', '%'."""
    if output.unit:
        return output.unit
    if output.min is not None and output.max is not None:
        return f"points, {output.min:g}-{output.max:g}"
    return "points"


# Episode (admin) ------------------------------------------------------------------------------------------


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
    unit = units.pop() if len(units) == 1 else "points"
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
        name = _short_label(output.label)
        traces.append(
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": name,
                "x": [round(p.day / DAYS_PER_MONTH, 2) for p in mine],
                "y": [p.value for p in mine],
                "customdata": [[TIMEPOINT_LABELS.get(p.timepoint, p.timepoint), p.day, p.mode or "—"] for p in mine],
                "hovertemplate": f"<b>{name}</b>: %{{y:.1f}}<br>%{{customdata[0]}}, day %{{customdata[1]}}"
                "<br>entered: %{customdata[2]}<extra></extra>",
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
            reached = "yes" if improvement >= float(threshold.value) else "no"
        rows.append(
            [
                name,
                _fmt(baseline),
                _fmt(latest.value if latest else None),
                TIMEPOINT_LABELS.get(latest.timepoint, latest.timepoint) if latest else "—",
                f"{float(threshold.signed_value):+g}" if threshold else "none published",
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
                    "text": f"MCII {name}: {float(threshold.signed_value):+g} from baseline",
                    "showarrow": False,
                    "font": {"size": 11, "color": colour},
                }
            )
            notes.append(
                f"Shaded band: from the baseline {name} ({baseline:.1f}) to the minimal clinically important "
                f"improvement ({float(threshold.signed_value):+g} points; {threshold.citation})."
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
            "text": "index date",
            "showarrow": False,
            "font": {"size": 11, "color": "#555"},
        }
    )
    y_range = _y_range(outputs.values())
    dir_text = direction_label(direction)
    title = _abbreviation(definition.name) + (f" ({dir_text})" if dir_text else "")
    layout = _layout(
        title,
        "Months since the index date (baseline ◆)",
        f"Score ({unit}{', ' + dir_text if dir_text else ''})",
        xaxis={"range": [x_min, x_max], "dtick": 3},
        yaxis={"range": y_range} if y_range else {},
        shapes=shapes,
        annotations=annotations,
        meta={"direction": direction},
    )
    summary = "; ".join(f"{r[0]}: baseline {r[1]}, latest {r[2]} ({r[3]})" for r in rows) + "."
    return Chart(
        id=f"episode-{instrument}",
        title=title,
        figure={"data": traces, "layout": layout},
        summary=summary,
        table_head=["Score", "Baseline", "Latest", "At", "MCII (points)", "MCII reached"],
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


def _short_label(label: str) -> str:
    """'KOOS pain (0-100, 100 = no problems)' -> 'KOOS pain'."""
    return label.split(" (")[0]


def _y_range(outputs: Iterable[scoring.Output]) -> list[float] | None:
    lows = [o.min for o in outputs if o.min is not None]
    highs = [o.max for o in outputs if o.max is not None]
    if not lows or not highs:
        return None
    span = max(highs) - min(lows)
    return [min(lows) - span * 0.03, max(highs) + span * 0.03]


# Site dashboard (admin) -----------------------------------------------------------------------------------

COMPLETION_STATUSES = [
    ("completed", "Completed", "#009E73"),
    ("partial", "Partially completed", "#E69F00"),
    ("open", "Open", "#56B4E9"),
    ("missed", "Missed", "#D55E00"),
    # Ended after a call: counted as what they are, never as missing at random.
    ("refused", "Refused", "#CC79A7"),
    ("lost", "Lost to follow-up", "#666666"),
]


def completion_chart(counts: Mapping[tuple[str, str], int]) -> Chart:
    """Follow-ups whose window has opened, by timepoint and status: `counts[(timepoint, status)]`."""
    tps = list(TIMEPOINT_LABELS)
    x = [TIMEPOINT_LABELS[t] for t in tps]
    traces = [
        {
            "type": "bar",
            "name": label,
            "x": x,
            "y": [counts.get((t, status), 0) for t in tps],
            "marker": {"color": colour},
            "hovertemplate": f"{label}: %{{y}}<br>%{{x}}<extra></extra>",
        }
        for status, label, colour in COMPLETION_STATUSES
    ]
    rows = [[TIMEPOINT_LABELS[t], *(str(counts.get((t, s), 0)) for s, _l, _c in COMPLETION_STATUSES)] for t in tps]
    total = sum(counts.values())
    done = sum(v for (t, s), v in counts.items() if s == "completed")
    title = "Follow-up completion by timepoint"
    return Chart(
        id="completion",
        title=title,
        figure={"data": traces, "layout": _layout(title, "Timepoint", "Follow-ups (count)", barmode="stack")},
        summary=f"{done} of {total} follow-ups whose window has opened are completed.",
        table_head=["Timepoint", *(label for _s, label, _c in COMPLETION_STATUSES)],
        table_rows=rows,
    )


def response_rate_chart(months: Sequence[tuple[str, int, int]]) -> Chart:
    """`months`: (YYYY-MM, follow-ups whose window closed that month, of which completed)."""
    x = [m for m, _n, _k in months]
    y = [round(100 * k / n, 1) if n else None for _m, n, k in months]
    title = "Response rate by month the window closed"
    trace = {
        "type": "scatter",
        "mode": "lines+markers",
        "name": "Completed (%)",
        "x": x,
        "y": y,
        "customdata": [[k, n] for _m, n, k in months],
        "hovertemplate": "%{x}: %{y:.1f}% (%{customdata[0]} of %{customdata[1]})<extra></extra>",
        "line": {"color": PALETTE[0], "width": 2},
    }
    overall_n = sum(n for _m, n, _k in months)
    overall_k = sum(k for _m, _n, k in months)
    summary = (
        f"Overall {100 * overall_k / overall_n:.1f}% of {overall_n} follow-ups with a closed window were completed."
        if overall_n
        else "No follow-up window has closed yet."
    )
    return Chart(
        id="response-rate",
        title=title,
        figure={
            "data": [trace],
            # Months are categories ("2026-07"): as dates, one month alone gets clock-time ticks.
            "layout": _layout(
                title,
                "Month the window closed",
                "Completed (% of follow-ups)",
                yaxis={"range": [0, 105]},
                xaxis={"type": "category"},
            ),
        },
        summary=summary,
        table_head=["Month", "Windows closed", "Completed", "Rate (%)"],
        table_rows=[[m, str(n), str(k), _fmt(100 * k / n if n else None)] for m, n, k in months],
    )


def call_list_chart(by_timepoint: Mapping[str, int]) -> Chart:
    """Follow-ups on the call list now (no answer after the reminders), by timepoint."""
    tps = list(TIMEPOINT_LABELS)
    total = sum(by_timepoint.values())
    title = f"Call list now: {total} follow-up{'s' if total != 1 else ''}"
    trace = {
        "type": "bar",
        "name": "On the call list",
        "x": [TIMEPOINT_LABELS[t] for t in tps],
        "y": [by_timepoint.get(t, 0) for t in tps],
        "marker": {"color": PALETTE[1]},
        "hovertemplate": "%{x}: %{y} to call<extra></extra>",
    }
    layout = _layout(title, "Timepoint", "Follow-ups to call (count)", yaxis={"rangemode": "tozero"})
    if total == 0:
        layout["yaxis"]["range"] = [0, 5]
        layout["annotations"] = [
            {"xref": "paper", "x": 0.5, "yref": "paper", "y": 0.5, "text": "Nobody to call", "showarrow": False}
        ]
    return Chart(
        id="call-list",
        title=title,
        figure={"data": [trace], "layout": layout},
        summary=f"{total} follow-ups are on the call list.",
        table_head=["Timepoint", "To call"],
        table_rows=[[TIMEPOINT_LABELS[t], str(by_timepoint.get(t, 0))] for t in tps],
    )


GRADE_COLOURS = {1: "#56B4E9", 2: "#009E73", 3: "#E69F00", 4: "#D55E00", 5: "#000000"}


def adverse_events_chart(counts: Mapping[tuple[str, int], int], type_labels: Mapping[str, str]) -> Chart:
    """Adverse events by type (x) and CTCAE grade (stacked): `counts[(event_type, grade)]`."""
    types = [t for t in type_labels if any(counts.get((t, g), 0) for g in range(1, 6))]
    grades = [g for g in range(1, 6) if any(counts.get((t, g), 0) for t in types)]
    traces = [
        {
            "type": "bar",
            "name": f"Grade {g}",
            "x": [type_labels[t] for t in types],
            "y": [counts.get((t, g), 0) for t in types],
            "marker": {"color": GRADE_COLOURS[g]},
            "hovertemplate": f"%{{x}}, grade {g}: %{{y}}<extra></extra>",
        }
        for g in grades
    ]
    total = sum(counts.values())
    title = "Adverse events by type and CTCAE grade"
    return Chart(
        id="adverse-events",
        title=title,
        figure={"data": traces, "layout": _layout(title, "Event type", "Adverse events (count)", barmode="stack")},
        summary=f"{total} adverse events recorded"
        + (f"; grade 3 or higher: {sum(v for (t, g), v in counts.items() if g >= 3)}." if total else "."),
        table_head=["Type", *(f"Grade {g}" for g in range(1, 6))],
        table_rows=[[type_labels[t], *(str(counts.get((t, g), 0)) for g in range(1, 6))] for t in types],
    )


def treatments_chart(counts: Mapping[tuple[str, str], int], product_labels: Mapping[str, str]) -> Chart:
    """Administrations per month by product type: `counts[(YYYY-MM, product_type)]`."""
    months = sorted({m for m, _p in counts})
    products = [p for p in product_labels if any(counts.get((m, p), 0) for m in months)]
    traces = [
        {
            "type": "bar",
            "name": _short_label(product_labels[p]),
            "x": months,
            "y": [counts.get((m, p), 0) for m in months],
            "marker": {"color": PALETTE[i % len(PALETTE)]},
            "hovertemplate": f"%{{x}}: %{{y}} {_short_label(product_labels[p])}<extra></extra>",
        }
        for i, p in enumerate(products)
    ]
    title = "Administrations per month by product type"
    totals = {p: sum(counts.get((m, p), 0) for m in months) for p in products}
    return Chart(
        id="treatments",
        title=title,
        figure={
            "data": traces,
            "layout": _layout(
                title, "Month of administration", "Administrations (count)", barmode="stack", xaxis={"type": "category"}
            ),
        },
        summary="; ".join(f"{_short_label(product_labels[p])}: {n}" for p, n in totals.items()) + ".",
        table_head=["Product type", "Administrations"],
        table_rows=[[product_labels[p], str(n)] for p, n in totals.items()],
    )


# Cohort dashboard (de-identified) -------------------------------------------------------------------------


GROUP_VALUE_LABELS: dict[str, dict[Any, str]] = {
    "product_type": {
        "bmac": "BMAC",
        "svf": "SVF",
        "cultured_msc": "Cultured MSC",
        "allogeneic_msc": "Allogeneic MSC",
        "prp": "PRP",
        "ha": "HA",
        "steroid": "Steroid",
        "other": "Other product",
    },
    "source": {"autologous": "Autologous", "allogeneic": "Allogeneic", "na": "Acellular"},
}


GROUP_KEY_LABELS = {
    "product_type": "Product",
    "source": "Cell source",
    "kl_grade": "KL grade",
    "joint": "Joint",
    "site": "Site",
}


def group_name(group: Mapping[str, Any]) -> str:
    """A group as a person reads it: "BMAC, KL 3", "KL grade not recorded"."""
    if not group:
        return "All episodes"
    parts = []
    for k, v in group.items():
        if v is None:
            parts.append(f"{GROUP_KEY_LABELS.get(k, k.replace('_', ' ').capitalize())} not recorded")
        elif k == "joint":
            parts.append(str(v).capitalize())
        elif k in GROUP_VALUE_LABELS:
            parts.append(GROUP_VALUE_LABELS[k].get(v, str(v)))
        elif k == "kl_grade":
            parts.append(f"KL {v}")
        else:
            parts.append(str(v))
    return ", ".join(parts)


def _where(x: Any) -> str:
    if isinstance(x, (int, float)):
        return next((TIMEPOINT_LABELS[tp] for tp, m in TIMEPOINT_MONTHS.items() if m == x), f"{x:g} months")
    return str(x)


def withheld_sentence(by_x: Mapping[Any, list[str]], min_cell: int) -> list[str]:
    """The groups withheld and where, in words, for the text under the chart (it wraps; a plot label does not):
    "Withheld (fewer than 11 subjects), not drawn: BMAC at 24 months; PRP at 12 and 24 months." """
    if not by_x:
        return []
    places: dict[str, list[str]] = {}
    for x, names in by_x.items():
        for name in names:
            places.setdefault(name, []).append(_where(x))
    said = "; ".join(f"{name} at {' and '.join(where)}" for name, where in places.items())
    return [f"Withheld (fewer than {min_cell} subjects), not drawn: {said}."]


def _suppression_notes(by_x: Mapping[Any, list[str]], min_cell: int) -> list[dict[str, Any]]:
    """A short key above the plot and a bare ✕ at each x position with a withheld group (hover names them):
    short marks never collide; the groups are named in words under the chart (withheld_sentence)."""
    if not by_x:
        return []
    notes: list[dict[str, Any]] = [
        {
            "xref": "paper",
            "x": 0,
            "xanchor": "left",
            "yref": "paper",
            "y": 1,
            "yanchor": "bottom",
            "text": f"✕ = withheld (fewer than {min_cell} subjects), named below the chart",
            "showarrow": False,
            "font": {"size": 11, "color": "#8b0000"},
            "name": "suppressed-key",
        }
    ]
    for x, names in by_x.items():
        notes.append(
            {
                "xref": "x",
                "x": x,
                "yref": "paper",
                "y": 0.01,
                "yanchor": "bottom",
                "text": "✕",
                "hovertext": f"{suppressed_text(min_cell)}: " + "; ".join(names),
                "showarrow": False,
                "font": {"size": 12, "color": "#8b0000"},
                "name": "suppressed",
            }
        )
    return notes


def _series(summary: Mapping[str, Any]) -> list[tuple[str, list[dict[str, Any]]]]:
    """(name, timepoints) per group of a score summary; the overall row when there are no groups."""
    if summary["groups"] and summary["group_by"]:
        return [(group_name(g["group"]), g["timepoints"]) for g in summary["groups"]]
    return [(group_name(g["group"]), g["timepoints"]) for g in summary["groups"]]


def suppressed_text(min_cell: int) -> str:
    return f"suppressed (fewer than {min_cell})"


def trajectory_chart(summary: Mapping[str, Any]) -> Chart:
    """Mean score with its 95% CI at each timepoint, one line per group (score_summary's output). Suppressed
    cells are not drawn: an annotation marks them."""
    min_cell = summary["min_cell_size"]
    label = _short_label(summary["label"])
    dir_text = direction_label(summary["direction"])
    traces, rows = [], []
    withheld: dict[Any, list[str]] = {}
    series = _series(summary)
    for i, (name, tps) in enumerate(series):
        colour = PALETTE[i % len(PALETTE)]
        offset = (i - (len(series) - 1) / 2) * 0.25  # dodge groups so error bars don't overlap
        x, y, plus, minus, custom = [], [], [], [], []
        for tp in tps:
            cell = tp["level"]
            months = TIMEPOINT_MONTHS[tp["timepoint"]] + offset
            if cell is None:
                continue
            if cell["suppressed"]:
                withheld.setdefault(TIMEPOINT_MONTHS[tp["timepoint"]], []).append(name)
                rows.append([name, TIMEPOINT_LABELS[tp["timepoint"]], suppressed_text(min_cell), "", ""])
                continue
            if cell["mean"] is None:
                continue
            x.append(round(months, 2))
            y.append(cell["mean"])
            plus.append((cell["ci_high"] - cell["mean"]) if cell["ci_high"] is not None else 0)
            minus.append((cell["mean"] - cell["ci_low"]) if cell["ci_low"] is not None else 0)
            custom.append([TIMEPOINT_LABELS[tp["timepoint"]], cell["n"], _fmt(cell["ci_low"]), _fmt(cell["ci_high"])])
            rows.append(
                [
                    name,
                    TIMEPOINT_LABELS[tp["timepoint"]],
                    _fmt(cell["mean"]),
                    f"{_fmt(cell['ci_low'])} to {_fmt(cell['ci_high'])}",
                    str(cell["n"]),
                ]
            )
        traces.append(
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": name,
                "x": x,
                "y": y,
                "error_y": {"type": "data", "symmetric": False, "array": plus, "arrayminus": minus, "thickness": 1.5},
                "customdata": custom,
                "hovertemplate": f"<b>{name}</b><br>%{{customdata[0]}}: mean %{{y:.1f}} "
                "(95% CI %{customdata[2]} to %{customdata[3]}), n = %{customdata[1]}<extra></extra>",
                "line": {"color": colour, "width": 2},
                "marker": {"color": colour, "size": 8},
            }
        )
    title = f"{label}: mean and 95% CI" + (f" ({dir_text})" if dir_text else "")
    lo, hi = summary["range"]
    layout = _layout(
        title,
        "Months since the index date",
        f"Mean (points, {lo:g}-{hi:g}{', ' + dir_text if dir_text else ''})",
        xaxis={"tickvals": list(TIMEPOINT_MONTHS.values()), "ticktext": list(TIMEPOINT_LABELS.values())},
        yaxis={"range": [lo - (hi - lo) * 0.03, hi + (hi - lo) * 0.03]} if lo is not None and hi is not None else {},
        annotations=_suppression_notes(withheld, min_cell),
        showlegend=True,  # name the group even when only one is drawn
    )
    n_supp = sum(1 for r in rows if r[2] == suppressed_text(min_cell))
    return Chart(
        id="trajectory",
        title=title,
        figure={"data": traces, "layout": layout},
        summary=f"{len(series)} group(s); {n_supp} cell(s) suppressed (fewer than {min_cell} subjects), not drawn.",
        table_head=["Group", "Timepoint", "Mean", "95% CI", "n (episodes)"],
        table_rows=rows,
        notes=withheld_sentence(withheld, min_cell),
    )


def responder_chart(summary: Mapping[str, Any]) -> Chart:
    """Share of complete pairs reaching the MCII at each follow-up, per group, with the 95% Wilson interval."""
    min_cell = summary["min_cell_size"]
    label = _short_label(summary["label"])
    traces, rows = [], []
    withheld: dict[Any, list[str]] = {}
    series = _series(summary)
    follow_tps = [tp for tp in TIMEPOINT_LABELS if tp != "baseline"]
    for i, (name, tps) in enumerate(series):
        colour = PALETTE[i % len(PALETTE)]
        x, y, plus, minus, custom = [], [], [], [], []
        for tp in tps:
            cell = tp.get("mcii")
            if cell is None or tp["timepoint"] not in follow_tps:
                continue
            tp_label = TIMEPOINT_LABELS[tp["timepoint"]]
            if cell["suppressed"]:
                x.append(tp_label)
                y.append(None)
                plus.append(None)
                minus.append(None)
                custom.append([0, 0])
                withheld.setdefault(tp_label, []).append(name)
                rows.append([name, tp_label, suppressed_text(min_cell), "", ""])
                continue
            if cell["share"] is None:
                continue
            share = 100 * cell["share"]
            x.append(tp_label)
            y.append(round(share, 1))
            plus.append(100 * cell["ci_high"] - share)
            minus.append(share - 100 * cell["ci_low"])
            custom.append([cell["reached"], cell["n"]])
            rows.append(
                [
                    name,
                    tp_label,
                    f"{share:.1f}%",
                    f"{100 * cell['ci_low']:.1f} to {100 * cell['ci_high']:.1f}",
                    f"{cell['reached']} of {cell['n']}",
                ]
            )
        traces.append(
            {
                "type": "bar",
                "name": name,
                "x": x,
                "y": y,
                "error_y": {"type": "data", "symmetric": False, "array": plus, "arrayminus": minus},
                "customdata": custom,
                "hovertemplate": f"<b>{name}</b><br>%{{x}}: %{{y:.1f}}% "
                "(%{customdata[0]} of %{customdata[1]})<extra></extra>",
                "marker": {"color": colour},
            }
        )
    thresholds = summary["mcii"]["thresholds"]
    threshold_text = "; ".join(f"{t['joint']}: {t['signed_value']:+g}" for t in thresholds) or "none published"
    title = f"{label}: share reaching the MCII (95% CI)"
    return Chart(
        id="responders",
        title=title,
        figure={
            "data": traces,
            "layout": _layout(
                title,
                "Follow-up timepoint",
                "Episodes reaching the MCII (%)",
                barmode="group",
                yaxis={"range": [0, 105]},
                annotations=_suppression_notes(withheld, min_cell),
                showlegend=True,
            ),
        },
        summary=f"MCII threshold(s) {threshold_text} points.",
        table_head=["Group", "Timepoint", "Share", "95% CI (%)", "Reached"],
        table_rows=rows,
        notes=[*withheld_sentence(withheld, min_cell), *(t["citation"] for t in thresholds)],
    )


def km_chart(summary: Mapping[str, Any]) -> Chart:
    """Kaplan-Meier curve of time to arthroplasty (arthroplasty_summary's output) per group, a step line with
    its 95% CI band, and the numbers at risk in the table. Withheld groups are named, not drawn."""
    min_cell = summary["min_cell_size"]
    groups = summary["groups"]
    traces: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    suppressed_groups = []
    rows = []
    for i, g in enumerate(groups):
        name = group_name(g["group"])
        colour = PALETTE[i % len(PALETTE)]
        if g["suppressed"]:
            suppressed_groups.append(name)
            rows.append([name, *([suppressed_text(min_cell)] * len(summary["days"]))])
            continue
        curve = g["curve"]
        days = [c["day"] / DAYS_PER_MONTH for c in curve]
        traces.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": f"{name} (95% CI)",
                "x": days + days[::-1],
                "y": [100 * c["ci_high"] for c in curve] + [100 * c["ci_low"] for c in curve][::-1],
                "line": {"shape": "hv", "width": 0, "color": colour},
                "fill": "toself",
                "fillcolor": _rgba(colour, 0.15),
                "hoverinfo": "skip",
                "showlegend": False,
            }
        )
        traces.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": name,
                "x": [round(d, 2) for d in days],
                "y": [round(100 * c["survival"], 2) for c in curve],
                "customdata": [[c["day"], c["n_at_risk"]] for c in curve],
                "hovertemplate": f"<b>{name}</b><br>day %{{customdata[0]}}: %{{y:.1f}}% without arthroplasty, "
                "%{customdata[1]} at risk<extra></extra>",
                "line": {"shape": "hv", "width": 2, "color": colour},
            }
        )
        rows.append(
            [
                name,
                *(
                    suppressed_text(min_cell)
                    if r["suppressed"]
                    else f"{100 * r['survival']:.1f}% (at risk {r['n_at_risk']})"
                    for r in g["table"]
                ),
            ]
        )
    if suppressed_groups:
        annotations.append(
            {
                "xref": "paper",
                "x": 0.01,
                "yref": "paper",
                "y": 0.02,
                "xanchor": "left",
                "text": "✕ " + "; ".join(f"{n}: {suppressed_text(min_cell)}" for n in suppressed_groups),
                "showarrow": False,
                "font": {"size": 10, "color": "#8b0000"},
                "bgcolor": "#fff",
                "name": "suppressed",
            }
        )
    title = "Time to arthroplasty (Kaplan-Meier, 95% CI)"
    return Chart(
        id="km",
        title=title,
        figure={
            "data": traces,
            "layout": _layout(
                title,
                "Months since the index date",
                "Without arthroplasty (% of episodes)",
                yaxis={"range": [-3, 103]},  # the 0 ticks of both axes clear of each other at the origin
                xaxis={"rangemode": "tozero"},
                annotations=annotations,
            ),
        },
        summary=f"{len(groups) - len(suppressed_groups)} group(s) drawn; curves stop where fewer than {min_cell} "
        "episodes remain at risk." + (f" Suppressed: {', '.join(suppressed_groups)}." if suppressed_groups else ""),
        table_head=["Group", *(f"Day {d}" for d in summary["days"])],
        table_rows=rows,
        open_table_title="Numbers at risk",
        open_table_head=["Group", *(f"Day {d}" for d in summary["days"])],
        open_table_rows=[[group_name(g["group"]), *_at_risk(g, len(summary["days"]))] for g in groups],
    )


def _at_risk(group: Mapping[str, Any], days: int) -> list[str]:
    """A group's numbers at risk at each tabled day ("withheld" where too few to release)."""
    if group["suppressed"]:
        return ["withheld"] * days
    return ["withheld" if r["suppressed"] else str(r["n_at_risk"]) for r in group["table"]]


def _rgba(hex_colour: str, alpha: float) -> str:
    h = hex_colour.lstrip("#")
    r, g, b = (int(h[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


# Patient --------------------------------------------------------------------------------------------------


PATIENT_BASELINE_LABEL = "Before treatment"


@dataclass(frozen=True)
class PatientSeries:
    """One of the patient's own scores over time, in plain words."""

    name: str  # "Your pain"
    scale: str  # "0 = none, 100 = worst"
    better: str  # "Lower is better."
    points: list[tuple[str, float]]  # (timepoint label, value), baseline first


def patient_chart(series: PatientSeries, *, chart_id: str) -> Chart:
    """A large, plain chart of one of the patient's own scores since before treatment."""
    # Each label on two lines ("3<br>months"): five categories fit a phone's width without running together.
    labels = [label.replace(" ", "<br>", 1) for label, _v in series.points]
    values = [v for _l, v in series.points]
    trace = {
        "type": "scatter",
        "mode": "lines+markers+text",
        "name": series.name,
        "x": labels,
        "y": values,
        "text": [f"{v:.0f}" for v in values],
        "textposition": "top center",
        "textfont": {"size": 18},
        "hovertemplate": "%{x}: %{y:.0f}<extra></extra>",
        "line": {"color": "#0b5394", "width": 4},
        "marker": {"color": "#0b5394", "size": 14},
    }
    title = f"{series.name} ({series.scale})"
    layout = _layout(
        "",
        "When you answered",
        "Score (0-100)",
        font={**FONT, "size": 17},
        yaxis={"range": [-5, 110], "fixedrange": True},
        xaxis={"fixedrange": True, "type": "category", "tickangle": 0, "tickfont": {"size": 14}, "automargin": True},
        showlegend=False,
        margin={"l": 60, "r": 15, "t": 20, "b": 70},
        height=340,
    )
    (first_label, first), (_last_label, last) = series.points[0], series.points[-1]
    if len(series.points) == 1:
        summary = f"{first_label}: {first:.0f}. {series.better}"
    elif first_label == PATIENT_BASELINE_LABEL:
        summary = f"Before treatment: {first:.0f}. Now: {last:.0f}. {series.better}"
    else:
        summary = f"First answer ({first_label}): {first:.0f}. Now: {last:.0f}. {series.better}"
    return Chart(
        id=chart_id,
        title=title,
        # A still, simple chart: no toolbar to puzzle over on a phone.
        figure={"data": [trace], "layout": layout, "config": {"displayModeBar": False}},
        summary=summary,
        caption_visible=True,
    )
