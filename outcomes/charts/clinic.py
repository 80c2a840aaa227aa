"""The site dashboard's figures (staff): follow-up completion, response rate, call list, adverse events and
treatments per month. Pure functions on counts (outcomes.dashboards.site_dashboard_charts makes them)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from outcomes.charts import PALETTE, TIMEPOINT_LABELS, Chart, figure_layout, fmt_number, short_label

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
        figure={"data": traces, "layout": figure_layout(title, "Timepoint", "Follow-ups (count)", barmode="stack")},
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
            "layout": figure_layout(
                title,
                "Month the window closed",
                "Completed (% of follow-ups)",
                yaxis={"range": [0, 105]},
                xaxis={"type": "category"},
            ),
        },
        summary=summary,
        table_head=["Month", "Windows closed", "Completed", "Rate (%)"],
        table_rows=[[m, str(n), str(k), fmt_number(100 * k / n if n else None)] for m, n, k in months],
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
    layout = figure_layout(title, "Timepoint", "Follow-ups to call (count)", yaxis={"rangemode": "tozero"})
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
        figure={
            "data": traces,
            "layout": figure_layout(title, "Event type", "Adverse events (count)", barmode="stack"),
        },
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
            "name": short_label(product_labels[p]),
            "x": months,
            "y": [counts.get((m, p), 0) for m in months],
            "marker": {"color": PALETTE[i % len(PALETTE)]},
            "hovertemplate": f"%{{x}}: %{{y}} {short_label(product_labels[p])}<extra></extra>",
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
            "layout": figure_layout(
                title, "Month of administration", "Administrations (count)", barmode="stack", xaxis={"type": "category"}
            ),
        },
        summary="; ".join(f"{short_label(product_labels[p])}: {n}" for p, n in totals.items()) + ".",
        table_head=["Product type", "Administrations"],
        table_rows=[[product_labels[p], str(n)] for p, n in totals.items()],
    )
