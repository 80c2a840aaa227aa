"""Figure builders (outcomes.charts): pure functions on plain data, no database."""

from __future__ import annotations

import json

import pytest

from outcomes.charts import clinic, episode, patient
from outcomes.charts.episode import ScorePoint
from research import charts as cohort


def _koos_points() -> list[ScorePoint]:
    return [
        ScorePoint("koos", "pain", 50.0, "baseline", -5, "Web (patient link)"),
        ScorePoint("koos", "pain", 70.0, "m3", 92, "Phone"),
        ScorePoint("koos", "adl", 60.0, "baseline", -5, "Web (patient link)"),
        ScorePoint("koos", "adl", 65.0, "m3", 92, "Phone"),
        ScorePoint("koos", "koos5", 55.0, "baseline", -5, "Web (patient link)"),  # not a headline score
        ScorePoint("vas", "vas_mm", 62.0, "baseline", -5, "Paper"),
        ScorePoint("vas", "vas_mm", 35.0, "m3", 92, "Phone"),
    ]


def test_it_draws_one_chart_per_instrument_with_a_trace_per_headline_score():
    built = episode.episode_charts(_koos_points(), joint="knee")
    assert [c.id for c in built] == ["episode-koos", "episode-vas"]
    koos, vas = built
    assert [t["name"] for t in koos.figure["data"]] == ["KOOS pain", "KOOS function in daily living"]
    assert koos.trace_count == 2 and vas.trace_count == 1
    json.dumps(koos.figure)  # JSON-able as it is


def test_axes_have_titles_with_units_and_the_direction():
    koos, vas = episode.episode_charts(_koos_points(), joint="knee")
    layout = koos.figure["layout"]
    assert layout["xaxis"]["title"]["text"].startswith("Months since the index date")
    assert layout["yaxis"]["title"]["text"] == "Score (points, 0-100, higher = better)"
    assert "higher = better" in koos.title
    assert "higher = worse" in vas.figure["layout"]["yaxis"]["title"]["text"]
    assert layout["meta"]["direction"] == "higher_better"


def test_the_mcii_band_runs_from_baseline_towards_improvement():
    koos, vas = episode.episode_charts(_koos_points(), joint="knee")
    band = next(s for s in koos.figure["layout"]["shapes"] if s.get("name") == "mcii-band")
    # KOOS pain at the knee: +15 (Mostafaee 2021), higher is better: from 50 up to 65.
    assert (band["y0"], band["y1"]) == (50.0, 65.0)
    vas_band = next(s for s in vas.figure["layout"]["shapes"] if s.get("name") == "mcii-band")
    # Pain VAS at the knee: 19.9 mm (Tubach 2005), lower is better: from 62 down to 42.1.
    assert vas_band["y1"] == 62.0 and vas_band["y0"] == pytest.approx(42.1)
    assert koos.table_rows[0][-2:] == ["+15", "yes"]  # 50 -> 70 reaches +15
    assert vas.table_rows[0][-2:] == ["-19.9", "yes"]


def test_the_baseline_is_marked_and_hover_names_the_mode_of_entry():
    koos = episode.episode_charts(_koos_points(), joint="knee")[0]
    pain = koos.figure["data"][0]
    assert pain["marker"]["symbol"] == ["diamond", "circle"]
    assert pain["x"][0] < 0 < pain["x"][1]
    assert pain["customdata"][1] == ["3 months", 92, "Phone"]
    assert "customdata[2]" in pain["hovertemplate"]
    assert any(s.get("name") == "index-date" for s in koos.figure["layout"]["shapes"])


def test_no_band_where_no_threshold_is_published():
    # KOOS at the hip has no published MCII.
    koos = episode.episode_charts(_koos_points(), joint="hip")[0]
    assert not any(s.get("name") == "mcii-band" for s in koos.figure["layout"]["shapes"])
    assert koos.table_rows[0][-2] == "none published"


def _summary(suppressed_tp: str = "m24") -> dict:
    def level(mean, supp=False):
        return {
            "suppressed": supp,
            "n": None if supp else 20,
            "mean": None if supp else mean,
            "ci_low": None if supp else mean - 5,
            "ci_high": None if supp else mean + 5,
        }

    def mcii(share, supp=False):
        return {
            "suppressed": supp,
            "n": None if supp else 20,
            "reached": None if supp else int(20 * share),
            "share": None if supp else share,
            "ci_low": None if supp else share - 0.1,
            "ci_high": None if supp else share + 0.1,
        }

    def tps(base):
        out = []
        for i, tp in enumerate(["baseline", "m3", "m6", "m12", "m24"]):
            supp = tp == suppressed_tp
            out.append(
                {
                    "timepoint": tp,
                    "level": level(base + 5 * i, supp),
                    "mcii": None if tp == "baseline" else mcii(0.5, supp),
                }
            )
        return out

    return {
        "label": "KOOS pain (0-100, 100 = no problems)",
        "direction": "higher_better",
        "range": [0, 100],
        "min_cell_size": 11,
        "group_by": ["product_type"],
        "mcii": {"thresholds": [{"joint": "knee", "signed_value": 15.0, "citation": "Mostafaee 2021"}]},
        "groups": [
            {"group": {"product_type": "bmac"}, "timepoints": tps(50)},
            {"group": {"product_type": "prp"}, "timepoints": tps(45)},
        ],
    }


def test_trajectories_leave_suppressed_cells_out_and_mark_them():
    chart = cohort.trajectory_chart(_summary())
    assert chart.trace_count == 2
    bmac = chart.figure["data"][0]
    assert len(bmac["x"]) == 4  # 24 months withheld
    notes = [a for a in chart.figure["layout"]["annotations"] if a.get("name") == "suppressed"]
    # One marker at 24 months naming both withheld groups.
    assert len(notes) == 1 and notes[0]["x"] == 24
    assert notes[0]["text"] == "✕"  # a bare mark: labels at neighbouring timepoints cannot collide
    assert notes[0]["hovertext"] == "suppressed (fewer than 11): BMAC; PRP"
    key = next(a for a in chart.figure["layout"]["annotations"] if a.get("name") == "suppressed-key")
    assert key["text"] == "✕ = withheld (fewer than 11 subjects), named below the chart"
    assert chart.notes == ["Withheld (fewer than 11 subjects), not drawn: BMAC at 24 months; PRP at 24 months."]
    assert ["BMAC", "24 months", "suppressed (fewer than 11)", "", ""] in chart.table_rows
    assert "95% CI" in chart.title
    assert chart.figure["layout"]["yaxis"]["title"]["text"] == "Mean (points, 0-100, higher = better)"
    assert bmac["error_y"]["array"][0] == pytest.approx(5)


def test_responder_bars_have_no_bar_for_a_suppressed_cell():
    chart = cohort.responder_chart(_summary("m12"))
    bars = chart.figure["data"][0]
    idx = bars["x"].index("12 months")
    assert bars["y"][idx] is None
    assert bars["y"][0] == 50.0
    assert [a["text"] for a in chart.figure["layout"]["annotations"] if a.get("name") == "suppressed"] == ["✕"]
    assert chart.notes[0] == "Withheld (fewer than 11 subjects), not drawn: BMAC at 12 months; PRP at 12 months."
    assert chart.figure["layout"]["yaxis"]["title"]["text"] == "Episodes reaching the MCII (%)"


def test_km_draws_a_step_curve_with_its_band_and_names_withheld_groups():
    curve = [
        {"day": 0, "survival": 1.0, "ci_low": 1.0, "ci_high": 1.0, "n_at_risk": 40},
        {"day": 200, "survival": 0.9, "ci_low": 0.8, "ci_high": 0.96, "n_at_risk": 30},
    ]
    table = [{"day": 365, "suppressed": False, "survival": 0.9, "n_at_risk": 25}]
    km = {
        "min_cell_size": 11,
        "days": [365],
        "groups": [
            {
                "group": {"joint": "knee"},
                "suppressed": False,
                "curve": curve,
                "table": table,
                "curve_truncated_after_day": None,
            },
            {
                "group": {"joint": "hip"},
                "suppressed": True,
                "curve": None,
                "table": None,
                "curve_truncated_after_day": None,
            },
        ],
    }
    chart = cohort.km_chart(km)
    assert chart.trace_count == 2  # the knee's band and line; the hip is not drawn
    line = chart.figure["data"][1]
    assert line["line"]["shape"] == "hv" and line["y"] == [100.0, 90.0]
    assert "suppressed (fewer than 11)" in chart.figure["layout"]["annotations"][0]["text"]
    assert chart.table_rows[1] == ["Hip", "suppressed (fewer than 11)"]
    assert chart.table_rows[0] == ["Knee", "90.0% (at risk 25)"]
    assert chart.open_table_title == "Numbers at risk"
    assert chart.open_table_head == ["Group", "Day 365"]
    assert chart.open_table_rows == [["Knee", "25"], ["Hip", "withheld"]]


def test_group_names_are_the_human_ones():
    assert cohort.group_name({}) == "All episodes"
    assert cohort.group_name({"kl_grade": None}) == "KL grade not recorded"
    assert cohort.group_name({"product_type": "bmac", "kl_grade": 3}) == "BMAC, KL 3"
    assert cohort.group_name({"source": None, "joint": "knee"}) == "Cell source not recorded, Knee"
    assert cohort.group_name({"product_type": None}) == "Product not recorded"


def test_site_charts_count_by_status_grade_and_product():
    completion = clinic.completion_chart({("baseline", "completed"): 5, ("m3", "missed"): 2})
    assert [t["name"] for t in completion.figure["data"]] == [
        "Completed",
        "Partially completed",
        "Open",
        "Missed",
        "Refused",
        "Lost to follow-up",
    ]
    assert completion.figure["data"][0]["y"][0] == 5 and completion.figure["data"][3]["y"][1] == 2
    ae = clinic.adverse_events_chart({("effusion", 1): 3, ("effusion", 3): 1}, {"effusion": "Effusion", "x": "X"})
    assert [t["name"] for t in ae.figure["data"]] == ["Grade 1", "Grade 3"]
    assert ae.figure["data"][0]["x"] == ["Effusion"]
    tr = clinic.treatments_chart({("2026-01", "prp"): 2, ("2026-02", "bmac"): 1}, {"bmac": "BMAC (x)", "prp": "PRP"})
    assert tr.figure["data"][0]["x"] == ["2026-01", "2026-02"] and tr.figure["data"][0]["y"] == [0, 1]
    rate = clinic.response_rate_chart([("2026-01", 4, 3)])
    assert rate.figure["data"][0]["y"] == [75.0]
    assert rate.figure["layout"]["yaxis"]["title"]["text"] == "Completed (% of follow-ups)"


def test_the_patient_chart_speaks_plainly():
    series = patient.PatientSeries(
        "Your pain", "0 = none, 100 = worst", "Lower is better.", [("Before treatment", 62.0), ("3 months", 35.0)]
    )
    chart = patient.patient_chart(series, chart_id="p")
    assert chart.summary == "Before treatment: 62. Now: 35. Lower is better."
    assert chart.title == "Your pain (0 = none, 100 = worst)"
    assert chart.figure["layout"]["font"]["size"] >= 16
    assert chart.figure["data"][0]["x"] == ["Before<br>treatment", "3<br>months"]  # two lines: no run-together
    late = patient.PatientSeries("Your pain", "0 = none, 100 = worst", "Lower is better.", [("6 months", 38.0)])
    assert patient.patient_chart(late, chart_id="q").summary == "6 months: 38. Lower is better."
