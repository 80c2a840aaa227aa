"""Formats and filters: CSV and JSON carry the same rows; the CSV loads straight into pandas; cursor pages;
queries per page do not grow with the page size; every filter works, and an unknown filter or an invalid value
is a 400 with the reason."""

from __future__ import annotations

import io
from decimal import Decimal

import pandas as pd
import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from research import deid
from tests.research.conftest import add_scores, make_episode, make_patient

pytestmark = pytest.mark.django_db

DATASETS = {
    "/api/v1/treatments/": deid.TREATMENTS.columns,
    "/api/v1/administrations/": deid.ADMINISTRATIONS.columns,
    "/api/v1/scores/": deid.SCORES.columns,
    "/api/v1/adverse-events/": deid.ADVERSE_EVENTS.columns,
    "/api/v1/surgeries/": deid.SURGERIES.columns,
}


def parse(value: str, kind: str):
    if value == "":
        return None
    return {"integer": int, "number": float, "boolean": lambda v: {"true": True, "false": False}[v]}.get(kind, str)(
        value
    )


@pytest.mark.parametrize("path", list(DATASETS))
def test_csv_and_json_carry_the_same_rows(api_ab, cohort, path):
    columns = DATASETS[path]
    from_json = api_ab.all_pages(path, page_size=2)
    from_csv = api_ab.csv(path)
    assert from_json
    assert list(from_csv[0]) == [c.name for c in columns]
    assert [[parse(row[c.name], c.kind) for c in columns] for row in from_csv] == [
        [row[c.name] for c in columns] for row in from_json
    ]


def test_wide_scores_are_the_long_scores_pivoted(api_ab, cohort):
    long = api_ab.all_pages("/api/v1/scores/", instrument="koos,vas")
    wide = api_ab.all_pages("/api/v1/scores/wide/", instrument="koos,vas", page_size=3)
    assert len(wide) == len({(r["episode_id"], r["timepoint"]) for r in long})
    pivot = {(r["episode_id"], r["timepoint"], f"{r['instrument']}_{r['key']}"): r["value"] for r in long}
    for row in wide:
        for column in [c.name for c in deid.wide_score_columns(["koos", "vas"])]:
            assert row[column] == pivot.get((row["episode_id"], row["timepoint"], column)), column
    from_csv = api_ab.csv("/api/v1/scores/wide/", instrument="koos,vas")
    assert [(r["episode_id"], r["timepoint"]) for r in from_csv] == [(r["episode_id"], r["timepoint"]) for r in wide]
    assert [float(r["koos_pain"]) if r["koos_pain"] else None for r in from_csv] == [r["koos_pain"] for r in wide]


def test_the_csv_loads_straight_into_pandas_with_numeric_columns(api_ab, cohort):
    frame = pd.read_csv(io.StringIO(api_ab.csv_text("/api/v1/scores/", instrument="koos")))
    assert len(frame) == 4 * 2 * 3  # 4 knee episodes (the excluded patients left out), 2 timepoints, 3 keys
    for column in ("value", "days_from_index", "age_low", "age_high", "bmi_low", "bmi_high", "kl_grade", "index_year"):
        assert pd.api.types.is_numeric_dtype(frame[column]), column
    assert set(frame["timepoint"]) == {"baseline", "m12"}
    assert frame.loc[frame["key"] == "pain", "value"].max() == pytest.approx(72.22222222222223)
    treatments = pd.read_csv(io.StringIO(api_ab.csv_text("/api/v1/treatments/")))
    assert treatments["prior_surgery"].dtype == bool


def test_an_error_asked_for_in_csv_is_answered_in_json(api_ab, cohort):
    response = api_ab.get("/api/v1/scores/", format="csv", kl_grade="9")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert "kl_grade" in response.json()


def test_accept_text_csv_also_gives_csv(api_ab, cohort):
    response = api_ab.client.get(
        "/api/v1/surgeries/", headers={"Authorization": f"Token {api_ab.raw_key}", "Accept": "text/csv"}
    )
    assert response.status_code == 200 and response.streaming
    assert b"".join(response.streaming_content).startswith(b"subject_id,episode_id,site,")


def _many_episodes(site, count: int) -> None:
    for n in range(count):
        episode = make_episode(make_patient(site), product="prp" if n % 2 else "bmac", administrations=2)
        add_scores(episode, "baseline", "vas", {"vas_mm": float(n)})


@pytest.mark.parametrize("path", ["/api/v1/treatments/", "/api/v1/scores/", "/api/v1/scores/wide/"])
def test_queries_per_page_do_not_grow_with_the_page_size(api_a, site_a, path):
    _many_episodes(site_a, 24)
    api_a.get(path)  # pseudonyms assigned, key's last use recorded
    counts = []
    for size in (2, 20):
        with CaptureQueriesContext(connection) as queries:
            response = api_a.get(path, page_size=size)
        assert len(response.json()["results"]) == size
        counts.append(len(queries))
    assert counts[0] == counts[1], counts


def test_cursor_pages_cover_every_row_once(api_a, site_a):
    _many_episodes(site_a, 7)
    paged = api_a.all_pages("/api/v1/treatments/", page_size=3)
    whole = api_a.json("/api/v1/treatments/", page_size=100)["results"]
    assert [r["episode_id"] for r in paged] == [r["episode_id"] for r in whole]
    assert len(whole) == 7


# Filters ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params, expected",
    [
        ({"joint": "hip"}, {"hip"}),
        ({"joint": "knee,spine"}, {"knee", "spine"}),
        ({"product_type": "prp"}, {"prp"}),
        ({"source": "allogeneic"}, {"allogeneic_msc"}),
        ({"kl_grade": ["3", "4"]}, {3, 4}),
        ({"side": "left"}, {"left"}),
        ({"dose_min": "30", "dose_max": "40"}, {Decimal("31.0")}),
        ({"site": "SITEB"}, {"SITEB"}),
    ],
)
def test_each_filter_selects_its_rows(api_ab, cohort, params, expected):
    rows = api_ab.all_pages("/api/v1/treatments/", **params)
    column = {
        "joint": "joint",
        "product_type": "product_type",
        "source": "product_type",
        "kl_grade": "kl_grade",
        "side": "side",
        "dose_min": "cell_dose_millions",
        "site": "site",
    }[next(iter(params))]
    got = {Decimal(str(r[column])) if column == "cell_dose_millions" else r[column] for r in rows}
    assert got == expected


def test_score_filters_select_timepoint_instrument_and_key(api_ab, cohort):
    rows = api_ab.all_pages("/api/v1/scores/", timepoint="m12", instrument="koos", key="pain,qol")
    assert {(r["timepoint"], r["instrument"], r["key"]) for r in rows} == {
        ("m12", "koos", "pain"),
        ("m12", "koos", "qol"),
    }
    assert len(rows) == 4 * 2


def test_index_year_range_filters(api_ab, cohort):
    year = cohort.episodes[0].index_date.year
    assert len(api_ab.all_pages("/api/v1/treatments/", index_year_min=year, index_year_max=year)) == 7
    assert api_ab.all_pages("/api/v1/treatments/", index_year_min=year + 1) == []


@pytest.mark.parametrize(
    "path, params, field",
    [
        ("/api/v1/scores/", {"jiont": "knee"}, "unknown_parameters"),
        ("/api/v1/treatments/", {"timepoint": "m12"}, "unknown_parameters"),  # not a treatment filter
        ("/api/v1/scores/", {"joint": "elbow"}, "joint"),
        ("/api/v1/scores/", {"kl_grade": "5"}, "kl_grade"),
        ("/api/v1/scores/", {"dose_min": "lots"}, "dose_min"),
        ("/api/v1/scores/", {"dose_min": "40", "dose_max": "30"}, "dose_max"),
        ("/api/v1/scores/", {"index_year_min": "2024.5"}, "index_year_min"),
        ("/api/v1/scores/", {"instrument": "sf36"}, "instrument"),
        ("/api/v1/scores/", {"instrument": "koos", "key": "vas_mm"}, "key"),
        ("/api/v1/scores/", {"timepoint": "m18"}, "timepoint"),
        ("/api/v1/scores/", {"page_size": "100000"}, "page_size"),
        ("/api/v1/scores/", {"page_size": "ten"}, "page_size"),
        ("/api/v1/dictionary/", {"verbose": "1"}, "unknown_parameters"),
        ("/api/v1/summaries/scores/", {"instrument": "koos", "key": "pain", "group_by": "colour"}, "group_by"),
        ("/api/v1/summaries/scores/", {"instrument": "koos", "key": "pian"}, "key"),
        ("/api/v1/summaries/scores/", {"instrument": "odi", "key": "band"}, "key"),
        ("/api/v1/summaries/scores/", {"key": "pain"}, "instrument"),
        ("/api/v1/summaries/arthroplasty/", {"days": "90,x"}, "days"),
        ("/api/v1/summaries/arthroplasty/", {"censoring": "never"}, "censoring"),
        ("/api/v1/summaries/arthroplasty/", {"instrument": "koos"}, "unknown_parameters"),
    ],
)
def test_an_unknown_filter_or_invalid_value_is_a_400_with_the_reason(api_ab, path, params, field):
    response = api_ab.get(path, **params)
    assert response.status_code == 400, response.content
    assert field in response.json(), response.json()


def test_rate_limit_answers_429_with_retry_after(api_a):
    with override_settings(RESEARCH_RATE_LIMIT="2/minute"):
        assert api_a.get("/api/v1/dictionary/").status_code == 200
        assert api_a.get("/api/v1/dictionary/").status_code == 200
        response = api_a.get("/api/v1/dictionary/")
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0


def test_csv_exports_have_their_own_rate_limit(api_a):
    with override_settings(RESEARCH_CSV_RATE_LIMIT="1/hour"):
        assert api_a.get("/api/v1/scores/", format="csv").status_code == 200
        assert api_a.get("/api/v1/scores/", format="csv").status_code == 429
        assert api_a.get("/api/v1/scores/").status_code == 200  # JSON pages are not exports
