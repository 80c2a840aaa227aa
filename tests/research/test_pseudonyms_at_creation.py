"""Pseudonyms are assigned when a patient or an episode is created, in the same transaction; a research request
checks only the rows above the newest pseudonym (rows that came in without the receivers), and the periodic
sweep catches any row anywhere."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from registry.models import Patient, TreatmentEpisode
from research import services
from research.models import EpisodePseudonym, SubjectPseudonym
from research.tasks import assign_pseudonyms
from tests.research.conftest import make_episode, make_patient

pytestmark = pytest.mark.django_db


def test_a_new_patient_and_a_new_episode_have_their_pseudonyms_at_once(site_a):
    episode = make_episode(make_patient(site_a))
    subject = SubjectPseudonym.objects.get(patient=episode.patient).pseudonym
    assert subject.startswith("S-") and len(subject) == 12
    assert EpisodePseudonym.objects.get(episode=episode).pseudonym.startswith("E-")
    episode.bmi = None
    episode.save()  # a later save keeps the pseudonym (stable)
    assert SubjectPseudonym.objects.get(patient=episode.patient).pseudonym == subject
    assert EpisodePseudonym.objects.count() == 1


def test_a_creation_rolled_back_leaves_no_pseudonym(site_a):
    with pytest.raises(RuntimeError), transaction.atomic():
        make_episode(make_patient(site_a))
        raise RuntimeError("the form failed after the save")
    assert not SubjectPseudonym.objects.exists() and not EpisodePseudonym.objects.exists()


def test_a_clash_of_two_random_pseudonyms_takes_another_and_keeps_the_patient(site_a, monkeypatch):
    taken = SubjectPseudonym.objects.get(patient=make_patient(site_a)).pseudonym
    offered = iter([taken, "S-ZZZZZZZZZZ"])
    monkeypatch.setattr(services, "new_pseudonym", lambda prefix: next(offered))
    patient = make_patient(site_a)
    assert Patient.objects.filter(pk=patient.pk).exists()
    assert SubjectPseudonym.objects.get(patient=patient).pseudonym == "S-ZZZZZZZZZZ"


def test_rows_imported_without_pseudonyms_get_them_at_the_next_research_request(api_a, site_a):
    make_episode(make_patient(site_a))
    imported = make_episode(make_patient(site_a))
    SubjectPseudonym.objects.filter(patient=imported.patient).delete()  # as if loaded by raw SQL
    EpisodePseudonym.objects.filter(episode=imported).delete()
    rows = api_a.all_pages("/api/v1/treatments/")
    assert len(rows) == 2 and all(r["subject_id"] and r["episode_id"] for r in rows)
    assert SubjectPseudonym.objects.count() == 2 and EpisodePseudonym.objects.count() == 2


def test_a_research_request_checks_only_above_the_newest_pseudonym(api_a, site_a):
    make_episode(make_patient(site_a))
    with CaptureQueriesContext(connection) as queries:
        assert services.pseudonyms_assign(full=False) == (0, 0)
    # Two index lookups per table (the newest row, the newest pseudonym); no scan for rows without one.
    assert len(queries.captured_queries) == 4
    assert not any("IS NULL" in q["sql"] for q in queries.captured_queries)


def test_the_sweep_finds_a_row_without_a_pseudonym_behind_the_newest_one(site_a):
    older = make_episode(make_patient(site_a))
    make_episode(make_patient(site_a))
    SubjectPseudonym.objects.filter(patient=older.patient).delete()
    assert services.pseudonyms_assign(full=False) == (0, 0)  # not above the newest pseudonym
    assert assign_pseudonyms() == {"subjects": 1, "episodes": 0}
    assert SubjectPseudonym.objects.filter(patient=older.patient).exists()


def test_the_sweep_runs_every_hour_from_beat(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["pseudonym-sweep"]
    assert entry == {"task": "research.tasks.assign_pseudonyms", "schedule": 3600}


def test_bulk_seeded_patients_and_episodes_have_pseudonyms():
    from datetime import date

    from project.demo import seed_demo

    seed_demo(patients=6, seed=3, sites=2, as_of=date(2026, 6, 1))
    assert SubjectPseudonym.objects.count() == Patient.objects.count() == 6
    assert EpisodePseudonym.objects.count() == TreatmentEpisode.objects.count() > 0
    assert services.pseudonyms_assign(full=True) == (0, 0)
