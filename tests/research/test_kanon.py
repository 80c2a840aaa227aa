"""k-anonymity of the research release (research/kanon.py): ages and BMIs leave as bands, and every released
combination of site, sex, age band and BMI band holds at least k subjects of the site's policy."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.contrib.admin.models import LogEntry
from django.core.management import call_command
from django.core.management.base import CommandError

from registry.models import ReleasePolicy
from research.services import api_key_create
from tests.research.conftest import TODAY, episode_id, make_episode, make_patient

pytestmark = pytest.mark.django_db

INDEX_DAYS_AGO = 800
INDEX = TODAY - timedelta(days=INDEX_DAYS_AGO)


def born_aged(age: int) -> date:
    """A birth date that makes the patient `age` in completed years at INDEX (their birthday 30 days before)."""
    day = INDEX - timedelta(days=30)
    try:
        return day.replace(year=day.year - age)
    except ValueError:  # 29 February
        return (day - timedelta(days=1)).replace(year=day.year - age)


# (sex, exact age, exact BMI, episodes): every subject's exact combination is unique.
SITE_A = [
    *[("female", age, Decimal(bmi), 1) for age, bmi in [(51, "25.5"), (53, "26.1"), (55, "27.3"), (57, "28.4")]],
    ("female", 58, Decimal("29.2"), 2),  # bilateral knees: one subject, two rows
    ("female", 59, Decimal("25.9"), 1),
    *[("male", age, Decimal(bmi), 1) for age, bmi in [(61, "30.5"), (62, "31.7"), (64, "32.2"), (66, "33.3")]],
    ("male", 68, Decimal("34.6"), 1),
    ("male", 93, Decimal("41.0"), 1),  # the one everyone would recognise
    ("female", 72, Decimal("21.4"), 1),
    ("female", 77, Decimal("23.8"), 1),
]
SITE_B = [
    *[("female", 50 + n, Decimal("25.1") + Decimal("0.8") * n, 1) for n in range(6)],
    *[("male", 60 + n, Decimal("30.2") + Decimal("0.8") * n, 1) for n in range(6)],
    # 4 subjects in 5 rows: under k=5 whatever the rows
    *[("female", 71 + n, Decimal("20.3") + Decimal("0.8") * n, 2 if n == 0 else 1) for n in range(4)],
]
EXACT_AGES = {str(age) for _, age, _, _ in SITE_A + SITE_B}
EXACT_BMIS = {str(bmi) for _, _, bmi, _ in SITE_A + SITE_B}


def build(site, people):
    for sex, age, bmi, episodes in people:
        patient = make_patient(site, sex=sex, date_of_birth=born_aged(age))
        for n in range(episodes):
            make_episode(patient, side=("right", "left")[n], bmi=bmi, index_days_ago=INDEX_DAYS_AGO)


@pytest.fixture
def key_ab(site_a, site_b) -> str:
    """The conftest's key over A and B, with both sites on the default policy (k=5), which this module tests."""
    return api_key_create(name="Study at A and B", sites=[site_a, site_b], tier="rows")[1]


@pytest.fixture
def unique_cohort(site_a, site_b):
    build(site_a, SITE_A)
    build(site_b, SITE_B)


def classes(rows):
    """Released combination -> distinct subjects."""
    out = defaultdict(set)
    for r in rows:
        out[(r["site"], r["sex"], r["age_band"], r["bmi_band"])].add(r["subject_id"])
    return {combo: len(subjects) for combo, subjects in out.items()}


def test_released_rows_carry_bands_never_an_exact_age_or_bmi(api_ab, unique_cohort):
    rows = api_ab.all_pages("/api/v1/treatments/", page_size=4)
    assert len(rows) == 15 + 17
    assert not {"age_at_index", "bmi"} & set(rows[0])
    kept = [r for r in rows if r["age_band"] is not None]
    assert kept, "some rows keep their bands"
    for r in kept:
        assert r["age_band"] == f"{r['age_low']}-{r['age_high'] - 1}"
        assert r["age_high"] - r["age_low"] == 10 and r["age_low"] % 10 == 0
    for r in rows:
        if r["bmi_band"] is not None:
            assert r["bmi_band"] == f"{r['bmi_low']}-{r['bmi_high'] - 1}.9"
    for r in rows:
        assert str(r["age_low"]) not in EXACT_AGES - {"50", "60"}
    csv_rows = api_ab.csv("/api/v1/treatments/")
    assert not {"age_at_index", "bmi"} & set(csv_rows[0])
    cells = {cell for r in csv_rows for cell in r.values()}
    assert not cells & (EXACT_BMIS | {"93", "41", "41.0"})
    assert not cells & (EXACT_AGES - {"50", "60"})
    # Every other dataset carries the same values of the same episodes.
    scores = api_ab.csv("/api/v1/administrations/")
    by_episode = {r["episode_id"]: (r["sex"], r["age_band"], r["bmi_band"], r["qi_suppressed"]) for r in csv_rows}
    assert scores and all(
        (r["sex"], r["age_band"], r["bmi_band"], r["qi_suppressed"]) == by_episode[r["episode_id"]] for r in scores
    )


def test_every_released_combination_holds_k_subjects_over_two_sites_and_all_pages(api_ab, unique_cohort):
    rows = api_ab.all_pages("/api/v1/treatments/", page_size=3)
    sizes = classes(rows)
    assert min(sizes.values()) >= 5, sizes
    # The kept classes are those of the cohort that hold 5 or more subjects; the rest is blanked, and says so.
    assert sizes[("SITEA", "female", "50-59", "25-29.9")] == 6
    assert sizes[("SITEA", None, None, None)] == 8  # the 93-year-old, the two women in their 70s and the men
    assert sizes[("SITEB", "male", "60-69", "30-34.9")] == 6
    assert sizes[("SITEB", None, None, None)] == 10
    blanked = [r for r in rows if r["sex"] is None]
    assert blanked and all(r["qi_suppressed"] == "sex;age;bmi" for r in blanked)
    assert all(r["qi_suppressed"] is None for r in rows if r["sex"] is not None)
    csv_sizes = classes({k: (v or None) for k, v in r.items()} for r in api_ab.csv("/api/v1/treatments/"))
    assert csv_sizes == sizes
    # Deterministic: the same data gives the same release.
    assert api_ab.all_pages("/api/v1/treatments/", page_size=7) == rows


def test_a_key_over_one_site_gets_that_sites_rows_unchanged(client, api_ab, site_a, unique_cohort):
    from tests.research.conftest import ApiClient

    only_a = ApiClient(client, api_key_create(name="A only", sites=[site_a], tier="rows")[1])
    both = [r for r in api_ab.all_pages("/api/v1/treatments/") if r["site"] == "SITEA"]
    assert only_a.all_pages("/api/v1/treatments/") == both


def test_a_site_with_a_stricter_policy_gets_stricter_output(api_ab, site_b, unique_cohort):
    before = [r for r in api_ab.all_pages("/api/v1/treatments/") if r["site"] == "SITEB"]
    ReleasePolicy.objects.create(site=site_b, k=10)
    after = [r for r in api_ab.all_pages("/api/v1/treatments/") if r["site"] == "SITEB"]
    assert min(classes(before).values()) == 6
    assert min(classes(after).values()) >= 10
    assert sum(r["sex"] is None for r in after) > sum(r["sex"] is None for r in before)
    assert {r["qi_suppressed"] for r in after} == {"sex;age;bmi"}


def test_policy_widths_and_top_codes_shape_the_bands(api_ab, site_a, site_b, unique_cohort):
    ReleasePolicy.objects.create(site=site_a, k=2, age_band_years=5, age_top_code=80, bmi_band=10, bmi_top_code=None)
    rows = [r for r in api_ab.all_pages("/api/v1/treatments/") if r["site"] == "SITEA"]
    assert min(classes(rows).values()) >= 2
    kept = {(r["age_band"], r["age_low"], r["age_high"], r["bmi_band"], r["bmi_low"], r["bmi_high"]) for r in rows}
    assert kept == {
        ("50-54", 50, 55, "20-29.9", 20, 30),
        ("55-59", 55, 60, "20-29.9", 20, 30),
        ("60-64", 60, 65, "30-39.9", 30, 40),
        ("65-69", 65, 70, "30-39.9", 30, 40),
        (None, None, None, None, None, None),  # the 93-year-old and the two women in their 70s
    }
    dictionary = api_ab.json("/api/v1/dictionary/")
    policies = {p["site"]: p for p in dictionary["release_policies"]}
    assert policies["SITEA"] == {
        "site": "SITEA",
        "k": 2,
        "age_band_years": 5,
        "age_top_code": 80,
        "bmi_band": 10,
        "bmi_top_code": None,
        "default": False,
    }
    assert policies["SITEB"]["k"] == 5 and policies["SITEB"]["default"] is True
    assert dictionary["quasi_identifiers"] == ["site", "sex", "age_band", "bmi_band"]


def test_ages_of_90_and_over_share_the_top_band(api_ab, site_a, site_b):
    ReleasePolicy.objects.create(site=site_a, k=2)
    ReleasePolicy.objects.create(site=site_b, k=2, age_band_years=1, age_top_code=80, bmi_top_code=None)
    build(site_a, [("male", 93, Decimal("41.0"), 1), ("male", 96, Decimal("44.4"), 1)])
    build(site_b, [("female", 83, Decimal("22.0"), 1), ("female", 85, Decimal("23.9"), 1)])
    build(site_b, [("male", 57, Decimal("45.0"), 1), ("male", 57, Decimal("48.2"), 1)])
    rows = api_ab.all_pages("/api/v1/treatments/")
    bands = [
        (r["site"], r["age_band"], r["age_low"], r["age_high"], r["bmi_band"], r["bmi_low"], r["bmi_high"])
        for r in rows
    ]
    assert sorted(bands, key=str) == sorted(
        [("SITEA", "90+", 90, None, "40+", 40, None)] * 2
        + [("SITEB", "80+", 80, None, "20-24.9", 20, 25)] * 2
        + [("SITEB", "57", 57, 58, "45-49.9", 45, 50)] * 2,
        key=str,
    )


def run(*args, capsys):
    """The command's output, errors and the exit code `manage.py` gives: a CommandError prints its message to
    stderr and exits with its returncode (manage.py itself would also close the test's database connection)."""
    out, err = StringIO(), StringIO()
    code = 0
    try:
        call_command("research_kanon", *args, stdout=out, stderr=err)
    except CommandError as exc:
        err.write(f"CommandError: {exc}\n")
        code = exc.returncode
    return out.getvalue(), err.getvalue(), code


def test_a_site_below_k_is_withheld_from_every_row_dataset_until_it_holds_k(api_ab, site_a, unique_cohort, capsys):
    """A site of fewer than k subjects cannot be made k-anonymous by blanking (its rows, site only, would be one
    class under k): none of its rows leave, in any dataset or format, and the command names it."""
    from registry.models import Site
    from tests import factories
    from tests.research.conftest import ApiClient, add_scores
    from tests.research.test_research_deid import LISTS

    tiny = Site.objects.create(code="TINY", name="Tiny", contact_email="t@example.test")
    episodes = []
    for n in range(4):  # 4 subjects, k=5; one treated on both knees
        patient = make_patient(tiny, sex=("male", "female")[n % 2])
        for side in ("right", "left")[: 2 if n == 0 else 1]:
            episode = make_episode(patient, side=side)
            add_scores(episode, "baseline", "vas", {"vas_mm": 60.0})
            episodes.append(episode)
    factories.AdverseEventFactory(episode=episodes[0])
    factories.SurgeryFactory(episode=episodes[1])
    api = ApiClient(api_ab.client, api_key_create(name="Tiny", sites=[tiny], tier="rows")[1])
    policy = ReleasePolicy.objects.create(site=tiny, k=4)  # 4 subjects hold k=4: every dataset has rows
    released = {path: api.all_pages(path) for path in LISTS}
    assert all(released.values()) and {r["site"] for rows in released.values() for r in rows} == {"TINY"}

    policy.k = 5
    policy.save()
    out, err, code = run("--sites", "TINY,SITEA", capsys=capsys)
    assert (code, err) == (0, "")
    assert "TINY: k=5" in out and "subjects 4, rows 5: fewer than k=5 subjects, so WITHHELD" in out
    assert "Withheld (fewer than k subjects): TINY." in out
    assert "SITEA: k=5" in out and "smallest class: exact values 1, banded 1, released 6" in out
    for path in LISTS:
        assert api.all_pages(path) == [], path
        assert api.csv(path) == [], path
        for fmt in ("sav", "dta"):
            assert "TINY" not in api.labelled_text(path, fmt), (path, fmt)
    assert api.get(f"/api/v1/treatments/{episode_id(episodes[0])}/").status_code == 404
    # Aggregates still count its subjects: their small-cell suppression protects them.
    summary = api.json("/api/v1/summaries/scores/", instrument="vas", key="vas_mm", group_by="site")
    assert "TINY" in str(summary)

    # The fifth subject: the site holds k, and its rows leave, without sex (a class of 3 women and one of 2 men,
    # all of one age and BMI band).
    make_episode(make_patient(tiny, sex="female"))
    out, err, code = run("--sites", "TINY", capsys=capsys)
    assert code == 0 and "WITHHELD" not in out and "Withheld" not in out
    rows = [r for r in api.all_pages("/api/v1/treatments/") if r["site"] == "TINY"]
    assert len(rows) == 6 and {r["qi_suppressed"] for r in rows} == {"sex"}
    assert min(classes(rows).values()) >= 5


def test_the_command_reports_each_sites_policy_and_classes(key_ab, unique_cohort, capsys):
    out, err, code = run("--key", key_ab[:9], capsys=capsys)
    assert (code, err) == (0, "")
    site_a, site_b = out.split("SITEB:")
    assert "SITEA: k=5, age bands of 10 years (90+), BMI bands of 5 kg/m2, 40+ (defaults)" in site_a
    assert "subjects 14, rows 15; QIs blanked in the order bmi, age, sex" in site_a
    assert "smallest class: exact values 1, banded 1, released 6" in site_a
    assert "classes of a single subject: exact values 14, banded 1, released 0" in site_a
    assert "classes under k: banded 2, released 0" in site_a
    assert "blanked values: sex 8, age 8, bmi 8 (rows)" in site_a
    assert "subjects 16, rows 17" in site_b and "blanked values: sex 11, age 11, bmi 11 (rows)" in site_b
    assert out.rstrip().endswith("Every released combination holds at least k subjects.")
    out, err, code = run("--sites", "SITEB", "--k", "10", capsys=capsys)
    assert code == 0 and "SITEB: k=10" in out and "blanked values: sex 17, age 17, bmi 17 (rows)" in out


@pytest.mark.parametrize(
    "args, message",
    [
        (["--key", "rk_nosuchkey"], "No usable API key starts with 'rk_nosuchkey'"),
        (["--sites", "SITEA,NOPE"], "Unknown site code: NOPE"),
        (["--k", "1"], "--k must be a whole number from 2 to 100"),
        (["--k", "abc"], "--k must be a whole number from 2 to 100"),
    ],
)
def test_the_command_refuses_a_bad_argument(args, message, unique_cohort, capsys):
    with pytest.raises(CommandError, match=message):
        call_command("research_kanon", *args)
    out, err, code = run(*args, capsys=capsys)
    assert code != 0 and message in err


def test_the_policy_is_changed_in_the_site_admin_with_history(charlie_client, site_a):
    url = f"/admin/registry/site/{site_a.pk}/change/"
    page = charlie_client.get(url)
    assert page.status_code == 200 and "research release policy" in page.content.decode().lower()
    data = {
        "code": site_a.code,
        "name": site_a.name,
        "time_zone": site_a.time_zone,
        "language": site_a.language,
        "contact_email": site_a.contact_email,
        "contact_phone": site_a.contact_phone,
        "country": site_a.country,
        "active": "on",
        "withdrawal_policy": site_a.withdrawal_policy,
        "release_policy-TOTAL_FORMS": "1",
        "release_policy-INITIAL_FORMS": "0",
        "release_policy-MIN_NUM_FORMS": "0",
        "release_policy-MAX_NUM_FORMS": "1",
        "release_policy-0-k": "1",
        "release_policy-0-age_band_years": "5",
        "release_policy-0-age_top_code": "90",
        "release_policy-0-bmi_band": "5",
        "release_policy-0-bmi_top_code": "40",
    }
    refused = charlie_client.post(url, data)
    assert refused.status_code == 200 and "greater than or equal to 2" in refused.content.decode()
    assert not ReleasePolicy.objects.exists()
    data["release_policy-0-k"] = "8"
    assert charlie_client.post(url, data).status_code == 302
    policy = ReleasePolicy.objects.get(site=site_a)
    assert (policy.k, policy.age_band_years) == (8, 5)
    assert policy.history.count() == 1 and policy.history.first().history_user.username == "charlie"
    entry = LogEntry.objects.filter(object_id=str(site_a.pk)).latest("action_time")
    assert "research release policy" in entry.get_change_message().lower()


def test_site_staff_see_the_policy_but_cannot_change_it(alice_client, site_a):
    ReleasePolicy.objects.create(site=site_a, k=7)
    page = alice_client.get(f"/admin/registry/site/{site_a.pk}/change/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "research release policy" in body.lower() and 'name="release_policy-0-k"' not in body


def test_the_policy_database_constraints_hold(site_a):
    from django.db import IntegrityError, transaction

    for bad in ({"k": 1}, {"age_top_code": 95}, {"bmi_band": 0}, {"bmi_top_code": 10}):
        with pytest.raises(IntegrityError), transaction.atomic():
            ReleasePolicy.objects.create(site=site_a, **bad)


def test_the_labelled_files_carry_the_bands_as_numbers_and_labels(api_ab, unique_cohort, tmp_path):
    import pandas as pd
    import pyreadstat

    response = api_ab.get("/api/v1/treatments/", format="dta")
    assert response.status_code == 200
    path = tmp_path / "treatments.dta"
    path.write_bytes(b"".join(response.streaming_content))
    frame, meta = pyreadstat.read_dta(str(path))
    assert not {"age_at_index", "bmi"} & set(frame.columns)
    stata = pd.read_stata(path)
    assert pd.api.types.is_numeric_dtype(stata["age_low"]) and pd.api.types.is_numeric_dtype(stata["bmi_high"])
    kept = frame[frame["qi_suppressed"] == ""]
    assert set(zip(kept["age_band"], kept["age_low"], kept["age_high"], strict=True)) == {
        ("50-59", 50, 60),
        ("60-69", 60, 70),
    }
    assert meta.column_names_to_labels["age_low"] == "Age band at index date: lowest age (years)"
    assert not set(frame["age_low"].dropna()) & {float(age) for age in EXACT_AGES if age not in ("50", "60")}
