"""Plotly figures for staff, researchers and patients, built as plain JSON-able dicts: the `Chart` type and the
house style (palette, font, layout) that every figure shares. The figures themselves:

- outcomes.charts.episode: an episode's scores over time (the episode page);
- outcomes.charts.clinic: the site dashboard (completion, response rate, call list, adverse events, treatments);
- outcomes.charts.patient: the patient's own chart;
- research.charts: the cohort dashboard (trajectories, responders, Kaplan-Meier), on the research floor.

Pure functions on plain data: no queries, no requests (the views in outcomes.dashboards, research.dashboards and
outcomes.patient_views fetch the rows and pass them in). Each builder returns a `Chart`: the figure (a dict
plotly.js draws with Plotly.newPlot), a title for the <figcaption>, and a text summary and table for screen
readers. Pages embed the figure with `json_script` and draw it with static/outcomes/charts.js, so no inline
script is needed under the registry's Content-Security-Policy.

Every figure has a title and axis titles with units; no external fonts, images or map tiles.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext, gettext_lazy

DAYS_PER_MONTH = 30.4375
TIMEPOINT_MONTHS = {"baseline": 0, "m3": 3, "m6": 6, "m12": 12, "m24": 24}
TIMEPOINT_LABELS = {"baseline": "Baseline", "m3": "3 months", "m6": "6 months", "m12": "12 months", "m24": "24 months"}
# The same, in the staff member's language (the site dashboard and the episode charts; research's stay English).
STAFF_TIMEPOINT_LABELS = {
    "baseline": gettext_lazy("Baseline"),
    "m3": gettext_lazy("3 months"),
    "m6": gettext_lazy("6 months"),
    "m12": gettext_lazy("12 months"),
    "m24": gettext_lazy("24 months"),
}
# Colour-blind-safe palette (Okabe-Ito), readable on white.
PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442"]
FONT = {"family": "system-ui, -apple-system, Segoe UI, Roboto, Arial, sans-serif", "size": 13, "color": "#222"}
PLOTLY_CONFIG = {"displaylogo": False, "responsive": True}


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


def figure_layout(title: str, x_title: str, y_title: str, **extra: Any) -> dict[str, Any]:
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


def fmt_number(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def direction_label(direction: str) -> str:
    return {"higher_better": "higher = better", "higher_worse": "higher = worse"}.get(direction, "")


def timepoint_label(timepoint: str) -> str:
    """'m3' -> '3 months', in the active language."""
    label = STAFF_TIMEPOINT_LABELS.get(timepoint)
    return str(label) if label is not None else timepoint


def staff_direction_label(direction: str) -> str:
    """direction_label in the active language."""
    if direction == "higher_better":
        return gettext("higher = better")
    if direction == "higher_worse":
        return gettext("higher = worse")
    return ""


def short_label(label: str) -> str:
    """'KOOS pain (0-100, 100 = no problems)' -> 'KOOS pain'."""
    return label.split(" (")[0]
