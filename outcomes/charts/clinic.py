"""The site dashboard's figures (staff): follow-up completion, response rate, call list, adverse events and
treatments per month. Pure functions on counts (outcomes.dashboards.site_dashboard_charts makes them), in the
staff member's language."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from django.utils.translation import gettext, ngettext, pgettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from outcomes.charts import PALETTE, TIMEPOINT_LABELS, Chart, figure_layout, fmt_number, short_label, timepoint_label

COMPLETION_STATUSES = [
    ("completed", pgettext_lazy("follow-up status", "Completed"), "#009E73"),
    ("partial", pgettext_lazy("follow-up status", "Partially completed"), "#E69F00"),
    ("open", pgettext_lazy("follow-up status", "Open"), "#56B4E9"),
    ("missed", pgettext_lazy("follow-up status", "Missed"), "#D55E00"),
    # Ended after a call: counted as what they are, never as missing at random.
    ("refused", pgettext_lazy("follow-up status", "Refused"), "#CC79A7"),
    ("lost", _("Lost to follow-up"), "#666666"),
]


def completion_chart(counts: Mapping[tuple[str, str], int]) -> Chart:
    """Follow-ups whose window has opened, by timepoint and status: `counts[(timepoint, status)]`."""
    tps = list(TIMEPOINT_LABELS)
    x = [timepoint_label(t) for t in tps]
    traces = [
        {
            "type": "bar",
            "name": str(label),
            "x": x,
            "y": [counts.get((t, status), 0) for t in tps],
            "marker": {"color": colour},
            "hovertemplate": f"{label}: %{{y}}<br>%{{x}}<extra></extra>",
        }
        for status, label, colour in COMPLETION_STATUSES
    ]
    rows = [[timepoint_label(t), *(str(counts.get((t, s), 0)) for s, _l, _c in COMPLETION_STATUSES)] for t in tps]
    total = sum(counts.values())
    done = sum(v for (t, s), v in counts.items() if s == "completed")
    title = gettext("Follow-up completion by timepoint")
    return Chart(
        id="completion",
        title=title,
        figure={
            "data": traces,
            "layout": figure_layout(title, gettext("Timepoint"), gettext("Follow-ups (count)"), barmode="stack"),
        },
        summary=ngettext(
            "%(done)s of %(total)s follow-up whose window has opened is completed.",
            "%(done)s of %(total)s follow-ups whose window has opened are completed.",
            total,
        )
        % {"done": done, "total": total},
        table_head=[gettext("Timepoint"), *(str(label) for _s, label, _c in COMPLETION_STATUSES)],
        table_rows=rows,
    )


def response_rate_chart(months: Sequence[tuple[str, int, int]]) -> Chart:
    """`months`: (YYYY-MM, follow-ups whose window closed that month, of which completed)."""
    x = [m for m, _n, _k in months]
    y = [round(100 * k / n, 1) if n else None for _m, n, k in months]
    title = gettext("Response rate by month the window closed")
    trace = {
        "type": "scatter",
        "mode": "lines+markers",
        "name": gettext("Completed (%)"),
        "x": x,
        "y": y,
        "customdata": [[k, n] for _m, n, k in months],
        "hovertemplate": "%{x}: %{y:.1f}% ("
        + gettext("%(done)s of %(total)s") % {"done": "%{customdata[0]}", "total": "%{customdata[1]}"}
        + ")<extra></extra>",
        "line": {"color": PALETTE[0], "width": 2},
    }
    overall_n = sum(n for _m, n, _k in months)
    overall_k = sum(k for _m, _n, k in months)
    summary = (
        ngettext(
            "Overall %(rate)s%% of %(n)s follow-up with a closed window was completed.",
            "Overall %(rate)s%% of %(n)s follow-ups with a closed window were completed.",
            overall_n,
        )
        % {"rate": f"{100 * overall_k / overall_n:.1f}", "n": overall_n}
        if overall_n
        else gettext("No follow-up window has closed yet.")
    )
    return Chart(
        id="response-rate",
        title=title,
        figure={
            "data": [trace],
            # Months are categories ("2026-07"): as dates, one month alone gets clock-time ticks.
            "layout": figure_layout(
                title,
                gettext("Month the window closed"),
                gettext("Completed (%(percent)s of follow-ups)") % {"percent": "%"},
                yaxis={"range": [0, 105]},
                xaxis={"type": "category"},
            ),
        },
        summary=summary,
        table_head=[
            gettext("Month"),
            gettext("Windows closed"),
            pgettext("follow-up status", "Completed"),
            gettext("Rate (%)"),
        ],
        table_rows=[[m, str(n), str(k), fmt_number(100 * k / n if n else None)] for m, n, k in months],
    )


def call_list_chart(by_timepoint: Mapping[str, int]) -> Chart:
    """Follow-ups on the call list now (no answer after the reminders), by timepoint."""
    tps = list(TIMEPOINT_LABELS)
    total = sum(by_timepoint.values())
    title = ngettext("Call list now: %(n)s follow-up", "Call list now: %(n)s follow-ups", total) % {"n": total}
    trace = {
        "type": "bar",
        "name": gettext("On the call list"),
        "x": [timepoint_label(t) for t in tps],
        "y": [by_timepoint.get(t, 0) for t in tps],
        "marker": {"color": PALETTE[1]},
        "hovertemplate": "%{x}: " + gettext("%(n)s to call") % {"n": "%{y}"} + "<extra></extra>",
    }
    layout = figure_layout(
        title, gettext("Timepoint"), gettext("Follow-ups to call (count)"), yaxis={"rangemode": "tozero"}
    )
    if total == 0:
        layout["yaxis"]["range"] = [0, 5]
        layout["annotations"] = [
            {
                "xref": "paper",
                "x": 0.5,
                "yref": "paper",
                "y": 0.5,
                "text": gettext("Nobody to call"),
                "showarrow": False,
            }
        ]
    return Chart(
        id="call-list",
        title=title,
        figure={"data": [trace], "layout": layout},
        summary=ngettext("%(n)s follow-up is on the call list.", "%(n)s follow-ups are on the call list.", total)
        % {"n": total},
        table_head=[gettext("Timepoint"), gettext("To call")],
        table_rows=[[timepoint_label(t), str(by_timepoint.get(t, 0))] for t in tps],
    )


GRADE_COLOURS = {1: "#56B4E9", 2: "#009E73", 3: "#E69F00", 4: "#D55E00", 5: "#000000"}


def _grade(g: int) -> str:
    return gettext("Grade %(grade)s") % {"grade": g}


def adverse_events_chart(counts: Mapping[tuple[str, int], int], type_labels: Mapping[str, str]) -> Chart:
    """Adverse events by type (x) and CTCAE grade (stacked): `counts[(event_type, grade)]`."""
    types = [t for t in type_labels if any(counts.get((t, g), 0) for g in range(1, 6))]
    grades = [g for g in range(1, 6) if any(counts.get((t, g), 0) for t in types)]
    traces = [
        {
            "type": "bar",
            "name": _grade(g),
            "x": [str(type_labels[t]) for t in types],
            "y": [counts.get((t, g), 0) for t in types],
            "marker": {"color": GRADE_COLOURS[g]},
            "hovertemplate": f"%{{x}}, {_grade(g)}: %{{y}}<extra></extra>",
        }
        for g in grades
    ]
    total = sum(counts.values())
    title = gettext("Adverse events by type and CTCAE grade")
    severe = sum(v for (t, g), v in counts.items() if g >= 3)
    return Chart(
        id="adverse-events",
        title=title,
        figure={
            "data": traces,
            "layout": figure_layout(title, gettext("Event type"), gettext("Adverse events (count)"), barmode="stack"),
        },
        summary=(
            ngettext(
                "%(n)s adverse event recorded; grade 3 or higher: %(severe)s.",
                "%(n)s adverse events recorded; grade 3 or higher: %(severe)s.",
                total,
            )
            % {"n": total, "severe": severe}
            if total
            else gettext("No adverse events recorded.")
        ),
        table_head=[gettext("Type"), *(_grade(g) for g in range(1, 6))],
        table_rows=[[str(type_labels[t]), *(str(counts.get((t, g), 0)) for g in range(1, 6))] for t in types],
    )


def treatments_chart(counts: Mapping[tuple[str, str], int], product_labels: Mapping[str, str]) -> Chart:
    """Administrations per month by product type: `counts[(YYYY-MM, product_type)]`."""
    months = sorted({m for m, _p in counts})
    products = [p for p in product_labels if any(counts.get((m, p), 0) for m in months)]
    traces = [
        {
            "type": "bar",
            "name": short_label(str(product_labels[p])),
            "x": months,
            "y": [counts.get((m, p), 0) for m in months],
            "marker": {"color": PALETTE[i % len(PALETTE)]},
            "hovertemplate": f"%{{x}}: %{{y}} {short_label(str(product_labels[p]))}<extra></extra>",
        }
        for i, p in enumerate(products)
    ]
    title = gettext("Administrations per month by product type")
    totals = {p: sum(counts.get((m, p), 0) for m in months) for p in products}
    return Chart(
        id="treatments",
        title=title,
        figure={
            "data": traces,
            "layout": figure_layout(
                title,
                gettext("Month of administration"),
                gettext("Administrations (count)"),
                barmode="stack",
                xaxis={"type": "category"},
            ),
        },
        summary="; ".join(f"{short_label(str(product_labels[p]))}: {n}" for p, n in totals.items()) + ".",
        table_head=[gettext("Product type"), gettext("Administrations")],
        table_rows=[[str(product_labels[p]), str(n)] for p, n in totals.items()],
    )
