"""manage.py seed_demo: deterministic, idempotent, plausible synthetic data, and clear refusals of bad arguments."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
from collections import Counter
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from registry.models import (
    CELL_PRODUCTS,
    Administration,
    AdverseEvent,
    Joint,
    Patient,
    PatientIdentity,
    Side,
    Site,
    SubsequentSurgery,
    TreatmentEpisode,
)

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
AS_OF = "2025-06-01"
AS_OF_DATE = date.fromisoformat(AS_OF)


def seed(*args: str) -> str:
    out = io.StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def digest() -> str:
    """A fingerprint of the clinical data that ignores database ids (they differ between databases)."""
    rows = TreatmentEpisode.objects.order_by("patient__registry_id", "index_date", "joint", "side").values_list(
        "pk", "patient__registry_id", "patient__site__code", "joint", "side", "kl_grade", "index_date"
    )
    products = {}
    for episode_id, product, day, dose in Administration.objects.order_by(
        "administered_on", "product_type"
    ).values_list("episode_id", "product_type", "administered_on", "cell_dose_millions"):
        products.setdefault(episode_id, []).append((product, day, dose))
    lines = [repr((*row[1:], products.get(row[0]))) for row in rows]
    lines += [
        repr(r)
        for r in PatientIdentity.objects.order_by("patient__registry_id").values_list(
            "patient__registry_id", "family_name", "date_of_birth"
        )
    ]
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def seed_in_a_fresh_database(*args: str) -> str:
    """Seed, fingerprint, and roll everything back, as if each call had a database of its own."""
    with transaction.atomic():
        assert not Patient.objects.exists()
        seed(*args)
        result = digest()
        transaction.set_rollback(True)
    return result


# Deterministic and idempotent ------------------------------------------------------------------------------


def test_the_same_seed_and_date_give_the_same_data():
    first = seed_in_a_fresh_database("--patients", "16", "--seed", "7", "--as-of", AS_OF)
    second = seed_in_a_fresh_database("--patients", "16", "--seed", "7", "--as-of", AS_OF)
    other_seed = seed_in_a_fresh_database("--patients", "16", "--seed", "8", "--as-of", AS_OF)
    other_date = seed_in_a_fresh_database("--patients", "16", "--seed", "7", "--as-of", "2025-05-01")
    assert first == second
    assert len({first, other_seed, other_date}) == 3


def test_a_second_run_adds_nothing():
    out = seed("--patients", "30", "--seed", "3", "--as-of", AS_OF)
    assert out.startswith("Seeded 30 patients")
    counts = [m.objects.count() for m in (Site, Patient, TreatmentEpisode, Administration, AdverseEvent)]
    before = digest()
    again = seed("--patients", "30", "--seed", "3", "--as-of", AS_OF)
    assert "Sites HRJ, SRO already hold patients: left as they are." in again
    assert "Seeded 0 patients" in again
    assert [m.objects.count() for m in (Site, Patient, TreatmentEpisode, Administration, AdverseEvent)] == counts
    assert digest() == before


def test_it_spreads_patients_over_the_requested_sites():
    seed("--patients", "31", "--seed", "1", "--sites", "3", "--as-of", AS_OF)
    per_site = dict(Counter(Patient.objects.values_list("site__code", flat=True)))
    assert per_site == {"HRJ": 11, "SRO": 10, "PBM": 10}


# Plausible -------------------------------------------------------------------------------------------------


@pytest.fixture(scope="class")
def seeded(django_db_setup, django_db_blocker):
    """One seeded database shared by the plausibility checks (they only read)."""
    with django_db_blocker.unblock(), transaction.atomic():
        seed("--patients", "120", "--seed", "42", "--as-of", AS_OF)
        yield
        transaction.set_rollback(True)


@pytest.mark.usefixtures("seeded")
class TestPlausibleData:
    def test_kl_grades_are_mostly_2_and_3(self):
        grades = Counter(TreatmentEpisode.objects.exclude(joint=Joint.SPINE).values_list("kl_grade", flat=True))
        assert None not in grades
        assert set(grades) <= {0, 1, 2, 3, 4}
        assert (grades[2] + grades[3]) / sum(grades.values()) > 0.6

    def test_every_episode_carries_its_first_administration_and_everyone_a_pseudonym(self):
        from research.models import EpisodePseudonym, SubjectPseudonym

        administrations = Administration.objects.order_by("-administered_on", "-pk")
        first = {a.episode_id: (a.product_type, a.source, a.cell_dose_millions) for a in administrations}
        carried = {
            e.pk: (e.first_product_type, e.first_source, e.first_cell_dose_millions)
            for e in TreatmentEpisode.objects.all()
        }
        assert carried == first and len(first) > 100
        assert SubjectPseudonym.objects.count() == Patient.objects.count()
        assert EpisodePseudonym.objects.count() == TreatmentEpisode.objects.count()

    def test_every_score_carries_its_follow_ups_episode_and_timepoint(self):
        from django.db.models import F, Q

        from outcomes.models import Score

        assert Score.objects.count() > 1000
        mismatched = Score.objects.filter(~Q(episode=F("follow_up__episode")) | ~Q(timepoint=F("follow_up__timepoint")))
        assert not mismatched.exists()

    def test_spine_episodes_have_a_level_and_no_kl_grade_or_side(self):
        spine = TreatmentEpisode.objects.filter(joint=Joint.SPINE)
        assert spine.exists()
        assert not spine.exclude(kl_grade=None).exists()
        assert set(spine.values_list("side", flat=True)) == {Side.MIDLINE}
        assert not spine.filter(spinal_level="").exists()

    def test_cell_doses_are_in_the_published_ranges(self):
        cells = Administration.objects.filter(product_type__in=CELL_PRODUCTS)
        doses = list(cells.values_list("cell_dose_millions", flat=True))
        assert doses and all(Decimal(15) <= d <= Decimal(100) for d in doses)
        viability = list(cells.values_list("viability_pct", flat=True))
        assert all(Decimal(0) <= v <= Decimal(100) for v in viability)
        acellular = Administration.objects.exclude(product_type__in=CELL_PRODUCTS)
        assert acellular.exists() and not acellular.exclude(cell_dose_millions=None).exists()

    def test_every_administration_is_on_or_after_its_index_date(self):
        pairs = Administration.objects.values_list("administered_on", "episode__index_date")
        assert pairs and all(given >= index for given, index in pairs)

    def test_every_episode_has_an_administration_on_its_index_date(self):
        given_on: dict[int, set[date]] = {}
        for pk, day in TreatmentEpisode.objects.values_list("pk", "administrations__administered_on"):
            given_on.setdefault(pk, set()).add(day)
        index_dates = dict(TreatmentEpisode.objects.values_list("pk", "index_date"))
        assert index_dates and all(index_dates[pk] in days for pk, days in given_on.items())

    def test_nothing_happens_after_the_as_of_date(self):
        latest = [
            Patient.objects.aggregate(a=Max("consent_date"), b=Max("withdrawn_on")),
            PatientIdentity.objects.aggregate(a=Max("date_of_birth")),
            TreatmentEpisode.objects.aggregate(a=Max("index_date")),
            Administration.objects.aggregate(a=Max("administered_on")),
            AdverseEvent.objects.aggregate(a=Max("onset_date"), b=Max("resolution_date")),
            SubsequentSurgery.objects.aggregate(a=Max("surgery_date")),
        ]
        days = [day for row in latest for day in row.values() if day is not None]
        assert len(days) == 8
        assert max(days) <= AS_OF_DATE
        assert TreatmentEpisode.objects.aggregate(a=Max("index_date"))["a"] > AS_OF_DATE - timedelta(days=60)

    def test_bilateral_treatments_are_two_episodes_on_the_same_day(self):
        sides = Counter(
            TreatmentEpisode.objects.exclude(joint=Joint.SPINE).values_list("patient_id", "joint", "index_date")
        )
        bilateral = [key for key, n in sides.items() if n == 2]
        assert len(bilateral) >= 10
        patient_id, joint, day = bilateral[0]
        pair = TreatmentEpisode.objects.filter(patient_id=patient_id, joint=joint, index_date=day)
        assert set(pair.values_list("side", flat=True)) == {Side.LEFT, Side.RIGHT}

    def test_there_are_adverse_events_and_later_arthroplasties(self):
        assert AdverseEvent.objects.count() >= 10
        assert SubsequentSurgery.objects.filter(surgery_type__in=SubsequentSurgery.ARTHROPLASTY).count() >= 5
        assert not AdverseEvent.objects.filter(grade__gte=4, serious=False).exists()

    def test_every_row_passes_the_forms_validation(self):
        for model in (Patient, PatientIdentity, TreatmentEpisode, Administration, AdverseEvent, SubsequentSurgery):
            rows = list(model.objects.order_by("pk"))
            for obj in rows[:: max(1, len(rows) // 40)]:  # a spread of 40 or so, enough and quick
                obj.full_clean()

    def test_patients_are_adults_at_treatment(self):
        ages = [
            (index - born).days / 365.25
            for index, born in TreatmentEpisode.objects.values_list("index_date", "patient__identity__date_of_birth")
        ]
        assert min(ages) >= 35 and max(ages) < 95


# Bad arguments ---------------------------------------------------------------------------------------------


def _tomorrow() -> str:
    return (timezone.localdate() + timedelta(days=1)).isoformat()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--patients", "0", "--seed", "1"], "--patients must be at least 1"),
        (["--patients", "-5", "--seed", "1"], "--patients must be at least 1"),
        (["--patients", "x", "--seed", "1"], "argument --patients: expected a whole number, got 'x'"),
        (["--patients", "10", "--seed", "1", "--sites", "0"], "--sites must be between 1 and 50"),
        (["--patients", "100", "--seed", "1", "--sites", "51"], "--sites must be between 1 and 50"),
        (["--patients", "1", "--seed", "1", "--sites", "2"], "--patients (1) must be at least --sites (2)"),
        (["--patients", "10", "--seed", "1", "--as-of", "not-a-date"], "--as-of must be a date as YYYY-MM-DD"),
        (["--patients", "10", "--seed", "1", "--as-of", "2025-02-30"], "--as-of must be a date as YYYY-MM-DD"),
        (["--patients", "10", "--seed", "1", "--as-of", "TOMORROW"], "--as-of cannot be in the future"),
        (["--seed", "1"], "the following arguments are required: --patients"),
        (["--patients", "10"], "the following arguments are required: --seed"),
    ],
)
def test_bad_arguments_are_refused_with_a_message(args, message):
    args = [_tomorrow() if a == "TOMORROW" else a for a in args]
    with pytest.raises(CommandError) as refused:
        seed(*args)
    assert message in str(refused.value)
    assert not Patient.objects.exists()


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--patients", "x", "--seed", "1"], 2, "expected a whole number"),
        (["--patients", "0", "--seed", "1"], 1, "--patients must be at least 1"),
    ],
)
def test_from_the_command_line_a_refusal_exits_non_zero(tmp_path, args, code, message):
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DJANGO_SETTINGS_MODULE": "project.test_settings",
        "REGISTRY_VAR_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "seed_demo", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == code
    assert message in result.stderr


# Indexes built once (PostgreSQL, large seeds) ------------------------------------------------------------


def _schema(tables) -> list[tuple]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid::regclass::text = ANY(%s) ORDER BY 1, 2",
            [list(tables)],
        )
        constraints = cursor.fetchall()
        cursor.execute(
            "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE tablename = ANY(%s) ORDER BY 1, 2",
            [list(tables)],
        )
        return constraints + cursor.fetchall()


@pytest.mark.django_db(transaction=True)
def test_a_large_seed_builds_the_indexes_once_and_leaves_the_schema_as_it_was():
    from django.db import IntegrityError, connection

    from outcomes.models import Score
    from project.demo import BULK_TABLES, seed_demo

    if connection.vendor != "postgresql":
        pytest.skip("indexes are deferred on PostgreSQL only")
    before = _schema(BULK_TABLES)
    assert len(before) > 25  # the tables' constraints and indexes are all there to compare
    report = seed_demo(patients=40, seed=5, sites=2, as_of=AS_OF_DATE, defer_indexes=True)
    assert _schema(BULK_TABLES) == before
    assert Score.objects.count() == report.scores > 0
    score = Score.objects.first()
    with pytest.raises(IntegrityError), transaction.atomic():  # the unique constraint is enforced again
        Score.build(
            score.follow_up, response=score.response, instrument=score.instrument, key=score.key, value=1
        ).save()


@pytest.mark.django_db(transaction=True)
def test_a_large_seed_that_fails_leaves_no_rows_and_the_schema_whole(monkeypatch):
    from django.db import connection

    from outcomes.models import FollowUp, Score
    from project import demo as project_demo
    from project.demo import BULK_TABLES, seed_demo
    from registry import demo

    if connection.vendor != "postgresql":
        pytest.skip("indexes are deferred on PostgreSQL only")
    before = _schema(BULK_TABLES)
    calls = []
    real = project_demo.seed_outcomes  # follow-up's share, as the project seeds it

    def fails_on_the_second_chunk(**kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return real(**kwargs)

    monkeypatch.setattr(project_demo, "seed_outcomes", fails_on_the_second_chunk)
    with pytest.raises(RuntimeError, match="disk full"):
        seed_demo(patients=40, seed=5, sites=2, as_of=AS_OF_DATE, defer_indexes=True)
    assert len(calls) == 2
    assert _schema(BULK_TABLES) == before
    assert not Patient.objects.exists() and not FollowUp.objects.exists() and not Score.objects.exists()
    assert demo.DEFER_INDEXES_FROM > 40  # small seeds (the demo, CI) keep the row-by-row path by default


# The demo's first start ------------------------------------------------------------------------------------


def test_the_demo_s_first_dispatcher_pass_sends_no_dead_link_and_only_answerable_questionnaires():
    """As `dev.py demo` starts: seeded as of today, then the beat's first pass. Every email's link works until a
    day that has not passed, and opens pages in the demo wording (no registry content label reaches a patient)."""
    import re
    from datetime import UTC, datetime

    import time_machine
    from django.core import mail
    from django.test import Client

    from outcomes import dispatcher, outbox
    from outcomes.contact import token_hash
    from outcomes.demo import demo_wording_files
    from outcomes.models import AccessToken, InstrumentWording

    moment = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    with time_machine.travel(moment, tick=False):
        seed("--patients", "80", "--seed", "42", "--sites", "2")
        files = list(demo_wording_files())
        assert InstrumentWording.objects.count() == 2 * len(files) and len(files) >= 7
        report = dispatcher.dispatch(now=moment)
        for message_id in report.due:
            outbox.message_send(message_id=message_id, now=moment)
        patient_emails = [m for m in mail.outbox if "/p/optout/" in m.body]
        assert len(patient_emails) >= 3
        languages = {m.extra_headers["Content-Language"] for m in patient_emails}
        assert "en" in languages and len(languages) > 1  # the demo's patients prefer several languages
        for message in patient_emails:
            token = re.search(r"/p/(?!optout)([\w-]+)/", message.body).group(1)
            assert AccessToken.objects.get(token_hash=token_hash(token)).expires_at > moment
            if message.extra_headers["Content-Language"] != "en":
                continue
            until = re.search(r"works until the end of (\d{1,2} \w+ \d{4})", message.body).group(1)
            assert datetime.strptime(until, "%d %B %Y").date() >= moment.date(), message.body
        patient_emails = [m for m in patient_emails if m.extra_headers["Content-Language"] == "en"]
        client = Client()
        token = re.search(r"/p/(?!optout)([\w-]+)/", patient_emails[0].body).group(1)
        landing = client.get(f"/p/{token}/", follow=True).content.decode()
        count = int(re.search(r"(\d+) short questionnaire", patient_emails[0].body).group(1))
        assert len(re.findall(r"<li><strong>", landing)) == count  # the email counts what the page lists
        page = client.get("/p/q/1/").content.decode()
        assert "statement (least disability)" not in page and "as set by the site" not in page
