"""The patient's own chart on the thank-you page: large type, plain words, baseline first."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from outcomes.charts import FONT, Chart, figure_layout

PATIENT_BASELINE_LABEL = gettext_lazy("Before treatment")


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
    layout = figure_layout(
        "",
        _("When you answered"),
        _("Score (0-100)"),
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
    elif first_label == str(PATIENT_BASELINE_LABEL):
        summary = _("Before treatment: %(first)s. Now: %(last)s.") % {"first": f"{first:.0f}", "last": f"{last:.0f}"}
        summary += f" {series.better}"
    else:
        summary = _("First answer (%(when)s): %(first)s. Now: %(last)s.") % {
            "when": first_label,
            "first": f"{first:.0f}",
            "last": f"{last:.0f}",
        }
        summary += f" {series.better}"
    return Chart(
        id=chart_id,
        title=title,
        # A still, simple chart: no toolbar to puzzle over on a phone.
        figure={"data": [trace], "layout": layout, "config": {"displayModeBar": False}},
        summary=summary,
        caption_visible=True,
    )
