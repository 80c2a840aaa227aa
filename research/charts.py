"""The cohort dashboard's figures (de-identified): trajectories with 95% CIs, responders and the
Kaplan-Meier time to arthroplasty, drawn from the research summaries (research.summaries); groups withheld for
small cells are named under the plot, never drawn. Pure functions on a summary's output."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from outcomes.charts import (
    DAYS_PER_MONTH,
    PALETTE,
    TIMEPOINT_LABELS,
    TIMEPOINT_MONTHS,
    Chart,
    direction_label,
    figure_layout,
    fmt_number,
    short_label,
)

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
    label = short_label(summary["label"])
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
            custom.append(
                [TIMEPOINT_LABELS[tp["timepoint"]], cell["n"], fmt_number(cell["ci_low"]), fmt_number(cell["ci_high"])]
            )
            rows.append(
                [
                    name,
                    TIMEPOINT_LABELS[tp["timepoint"]],
                    fmt_number(cell["mean"]),
                    f"{fmt_number(cell['ci_low'])} to {fmt_number(cell['ci_high'])}",
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
    layout = figure_layout(
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
    label = short_label(summary["label"])
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
            "layout": figure_layout(
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
            "layout": figure_layout(
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
