"""De-identification: no identifying value of any seeded patient in any response of any endpoint, JSON, CSV,
SPSS or Stata, nor in the FHIR Bulk Data export's NDJSON;
pseudonyms random and stable; days instead of dates; age 90+ pooled; excluded patients absent; a key scoped to
site A gets nothing of site B."""

from __future__ import annotations

import json
import re

import pytest

from research.models import EpisodePseudonym, SubjectPseudonym
from research.services import pseudonyms_assign
from tests.research.conftest import DAYS, episode_id, subject_id

pytestmark = pytest.mark.django_db

LISTS = [
    "/api/v1/treatments/",
    "/api/v1/administrations/",
    "/api/v1/scores/",
    "/api/v1/scores/wide/",
    "/api/v1/adverse-events/",
    "/api/v1/surgeries/",
]
OTHERS = [
    ("/api/v1/dictionary/", {}),
    ("/api/v1/summaries/scores/", {"instrument": "koos", "key": "pain", "group_by": "product_type"}),
    ("/api/v1/summaries/scores/", {"instrument": "vas", "key": "vas_mm", "group_by": "joint,site"}),
    ("/api/v1/summaries/arthroplasty/", {"group_by": "kl_grade", "censoring": "administrative"}),
]


def every_response(api, cohort) -> list[str]:
    bodies = []
    for path in LISTS:
        bodies.append(json.dumps(api.all_pages(path, page_size=3)))
        bodies.append(api.csv_text(path))
        for fmt in ("sav", "dta"):
            bodies.append(api.labelled_text(path, fmt))
    for episode in cohort.episodes:
        response = api.get(f"/api/v1/treatments/{episode_id(episode)}/")
        bodies.append(response.content.decode())
    for path, params in OTHERS:
        bodies.append(api.get(path, **params).content.decode())
    # The FHIR Bulk Data export (interop): every NDJSON file of a whole export.
    from tests.interop.conftest import bulk_export

    files = bulk_export(api.client, api.raw_key)
    assert files["Patient"] and files["Observation"]
    bodies += [json.dumps(resources) for resources in files.values()]
    return bodies


def test_no_identifying_value_appears_in_any_response(api_ab, cohort):
    bodies = every_response(api_ab, cohort)
    assert any("S-" in body for body in bodies)  # the responses do hold data
    needles = cohort.identifying_values()
    assert "Quackenbush" in needles and "1931-02-03" in needles
    for body in bodies:
        for needle in needles:
            assert needle not in body, f"{needle!r} leaked"
        assert "Swelling noticed" not in body  # free text (adverse-event description) is never released


def test_pseudonyms_are_random_not_derived_from_keys_and_stable(api_ab, cohort):
    first = {row["episode_id"]: row["subject_id"] for row in api_ab.all_pages("/api/v1/treatments/")}
    again = {row["episode_id"]: row["subject_id"] for row in api_ab.all_pages("/api/v1/treatments/")}
    assert first == again
    for mapping in SubjectPseudonym.objects.select_related("patient"):
        assert re.fullmatch(r"S-[0-9A-HJKMNP-TV-Z]{10}", mapping.pseudonym)
        assert mapping.patient.registry_id[2:] != mapping.pseudonym[2:]
    subject_of = {m.patient_id: m.pseudonym for m in SubjectPseudonym.objects.all()}
    episode_of = {m.episode_id: m.pseudonym for m in EpisodePseudonym.objects.all()}
    for episode in cohort.episodes:
        assert first[episode_of[episode.pk]] == subject_of[episode.patient_id]
    assert len(set(subject_of.values())) == len(subject_of)


def test_pseudonyms_are_assigned_once_and_kept(cohort):
    pseudonyms_assign()
    before = dict(SubjectPseudonym.objects.values_list("patient_id", "pseudonym"))
    assert pseudonyms_assign() == (0, 0)
    assert dict(SubjectPseudonym.objects.values_list("patient_id", "pseudonym")) == before


def test_pseudonyms_are_drawn_at_random_not_computed_from_the_patient(cohort):
    pseudonyms_assign()
    before = dict(SubjectPseudonym.objects.values_list("patient_id", "pseudonym"))
    SubjectPseudonym.objects.all().delete()
    EpisodePseudonym.objects.all().delete()
    pseudonyms_assign()
    after = dict(SubjectPseudonym.objects.values_list("patient_id", "pseudonym"))
    assert before.keys() == after.keys()
    assert all(before[pk] != after[pk] for pk in before)  # a function of the patient would give the same


def test_dates_are_days_from_index_and_no_exact_age_or_bmi_is_released(api_ab, cohort):
    rows = api_ab.all_pages("/api/v1/scores/", instrument="vas")
    assert {(r["timepoint"], r["days_from_index"]) for r in rows} == {("baseline", DAYS["baseline"]), ("m12", 365)}
    treatments = api_ab.all_pages("/api/v1/treatments/")
    assert not {"age_at_index", "bmi"} & set(treatments[0])
    # Bands, and here blanks, at the keys' k=2 (bands and 90+: tests/research/test_kanon.py): site B's man and
    # woman share only their BMI band; at site A the lone woman's class, blanked to nothing, takes in the men's.
    assert {(r["site"], r["sex"], r["age_band"], r["bmi_band"], r["qi_suppressed"]) for r in treatments} == {
        ("SITEA", None, None, None, "sex;age;bmi"),
        ("SITEB", None, None, "25-29.9", "sex;age"),
    }
    assert {r["index_year"] for r in treatments} == {cohort.episodes[0].index_date.year}
    administrations = api_ab.all_pages("/api/v1/administrations/")
    assert sorted({r["day"] for r in administrations}) == [0, 120, 240]
    events = api_ab.all_pages("/api/v1/adverse-events/")
    assert [(e["onset_day"], e["resolution_day"]) for e in events] == [(2, None)]
    surgeries = api_ab.all_pages("/api/v1/surgeries/")
    assert [(s["surgery_day"], s["surgery_type"], s["arthroplasty"]) for s in surgeries] == [
        (300, "total_arthroplasty", True)
    ]


def test_patients_without_research_consent_or_withdrawn_are_left_out(api_ab, cohort):
    subjects = {r["subject_id"] for r in api_ab.all_pages("/api/v1/scores/")}
    for patient in cohort.excluded:
        assert subject_id(patient) not in subjects
    assert len(subjects) == len(cohort.patients)


def test_a_key_for_site_a_gets_nothing_of_site_b(api_a, cohort, site_b):
    b_episodes = [e for e in cohort.episodes if e.patient.site_id == site_b.pk]
    b_subjects = {subject_id(p) for p in cohort.patients if p.site_id == site_b.pk}
    assert b_episodes and b_subjects
    for path in LISTS:
        rows = api_a.all_pages(path)
        assert rows, path  # site A's own rows are there
        assert {r["site"] for r in rows} == {"SITEA"}
        assert not b_subjects & {r["subject_id"] for r in rows}
        assert {r["site"] for r in api_a.csv(path)} == {"SITEA"}
        for fmt in ("sav", "dta"):
            text = api_a.labelled_text(path, fmt)
            assert "SITEA" in text and "SITEB" not in text, (path, fmt)
            assert not any(subject in text for subject in b_subjects), (path, fmt)
    for episode in b_episodes:
        assert api_a.get(f"/api/v1/treatments/{episode_id(episode)}/").status_code == 404
    response = api_a.get("/api/v1/scores/", site="SITEB")
    assert response.status_code == 400 and "site" in response.json()


def test_a_key_for_site_b_only_lists_empty_at_site_a(client, site_b, cohort):
    from research.services import api_key_create
    from tests.research.conftest import ApiClient, release_at_small_k

    release_at_small_k(site_b)
    api = ApiClient(client, api_key_create(name="B", sites=[site_b], tier="rows")[1])
    a_only = cohort.episodes[0]
    assert api.get(f"/api/v1/treatments/{episode_id(a_only)}/").status_code == 404
    assert api.all_pages("/api/v1/scores/", site="SITEB", joint="knee")
    assert api.all_pages("/api/v1/adverse-events/") == []  # the only adverse event is at site A


def test_age_at_index_is_computed_by_each_database_and_refused_by_an_unknown_one():
    """PostgreSQL's age is AGE() (its months and days, never 365.25-day years); SQLite's is compared by month and
    day; any other database fails loudly instead of computing an age some other way."""
    from types import SimpleNamespace

    from django.db import connection

    from registry.models import TreatmentEpisode
    from research.deid import CompletedYears, age_at_index

    query = TreatmentEpisode.objects.annotate(age=age_at_index("")).query
    compiler = query.get_compiler("default")
    completed = query.annotations["age"].source_expressions[0]
    assert isinstance(completed, CompletedYears)
    sql, _ = completed.as_postgresql(compiler, connection)
    assert sql.startswith("CAST(EXTRACT(YEAR FROM AGE(") and sql.endswith(")) AS INTEGER)")
    sql, _ = completed.as_sqlite(compiler, connection)
    assert "strftime('%%m-%%d'" in sql  # %% until the parameters are bound
    with pytest.raises(NotImplementedError, match="not implemented for mysql"):
        completed.as_sql(compiler, SimpleNamespace(vendor="mysql"))
