"""The research release rule (research/access.py) on its own: the administrator's release (every site) is the
keys' rule without the site scope, for every patient-level model; and a key that is missing, revoked or expired
reads nothing, even where authentication would not have stopped it first."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from outcomes.models import FollowUp, Response, Score
from registry.models import Administration, AdverseEvent, Patient, SubsequentSurgery, TreatmentEpisode
from research.access import registry_research_queryset, research_queryset
from research.services import api_key_create, api_key_revoke
from tests import factories
from tests.research.conftest import TODAY, add_scores, make_episode, make_patient

pytestmark = pytest.mark.django_db

MODELS = [Patient, TreatmentEpisode, Administration, AdverseEvent, SubsequentSurgery, FollowUp, Response, Score]


@pytest.fixture
def mixed(site_a, site_b):
    """At each site: a patient released (a done treatment with scores, an adverse event, a surgery) beside one
    of each that is not: no research consent, consent never recorded, withdrawn; and a planned and a cancelled
    treatment of the released patient."""
    released = {}
    for site in (site_a, site_b):
        patient = make_patient(site)
        done = make_episode(patient)
        add_scores(done, "baseline", "vas", {"vas_mm": 40.0})
        factories.AdverseEventFactory(episode=done)
        factories.SurgeryFactory(episode=done)
        for status in ("planned", "cancelled"):
            other = make_episode(patient, side="left")
            TreatmentEpisode.objects.filter(pk=other.pk).update(status=status)
        for flags in ({"consent_research": False}, {"withdrawn_on": TODAY - timedelta(days=3)}):
            add_scores(make_episode(make_patient(site, **flags)), "baseline", "vas", {"vas_mm": 10.0})
        undated = make_patient(site)
        Patient.objects.filter(pk=undated.pk).update(consent_date=None, consent_version="")  # still to be asked
        make_episode(undated)
        released[site.code] = (patient, done)
    return released


def test_the_administrators_release_is_the_keys_rule_over_every_site(site_a, site_b, mixed):
    key = api_key_create(name="all", sites=[site_a, site_b], tier="rows")[0]
    for model in MODELS:
        by_key = set(research_queryset(model, key).values_list("pk", flat=True))
        assert by_key, model.__name__  # something of each kind is released ...
        assert set(registry_research_queryset(model).values_list("pk", flat=True)) == by_key, model.__name__
    # ... and only the released patients' done treatments.
    assert set(research_queryset(Patient, key)) == {p for p, _ in mixed.values()}
    assert set(research_queryset(TreatmentEpisode, key)) == {e for _, e in mixed.values()}
    only_a = api_key_create(name="A", sites=[site_a], tier="rows")[0]
    assert set(research_queryset(TreatmentEpisode, only_a)) == {mixed["SITEA"][1]}


def test_no_key_a_revoked_or_an_expired_key_reads_nothing(site_a, mixed):
    usable = api_key_create(name="ok", sites=[site_a], tier="rows")[0]
    revoked = api_key_revoke(key=api_key_create(name="gone", sites=[site_a], tier="rows")[0])
    expiring = timezone.now() + timedelta(minutes=1)
    expired = api_key_create(name="old", sites=[site_a], tier="rows", expires_at=expiring)[0]
    with time_machine.travel(expiring + timedelta(seconds=1), tick=False):
        for model in MODELS:
            assert research_queryset(model, usable).exists(), model.__name__
            for key in (None, revoked, expired):
                assert not research_queryset(model, key).exists(), (model.__name__, key)
