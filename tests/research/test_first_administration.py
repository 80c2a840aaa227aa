"""The episode's copy of its first administration (product, source, cell dose), which the research datasets and
summaries read: set in the admin, kept through every edit, delete and move, backfilled by the migration, and
what researchers see."""

from __future__ import annotations

import importlib
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.apps import apps as django_apps
from django.urls import reverse

from registry.models import Administration, TreatmentEpisode
from tests import factories
from tests.registry.test_validation import VALID_ADMINISTRATION, VALID_EPISODE, _saved, add_row, form_data
from tests.research.conftest import episode_id, make_episode, make_patient, second_subject

pytestmark = pytest.mark.django_db

COLUMNS = ("first_product_type", "first_source", "first_cell_dose_millions")


def first(episode: TreatmentEpisode) -> tuple:
    episode.refresh_from_db()
    return tuple(getattr(episode, c) for c in COLUMNS)


def computed(episode: TreatmentEpisode) -> tuple:
    a = Administration.objects.filter(episode=episode).order_by("administered_on", "pk").first()
    return (a.product_type, a.source, a.cell_dose_millions) if a else (None, None, None)


def test_an_episode_entered_in_the_admin_carries_its_earliest_administration(alice_client, patient_a):
    url = reverse("admin:registry_treatmentepisode_add")
    response = alice_client.get(url)
    data = form_data(response)
    data.update(VALID_EPISODE, patient=str(patient_a.pk))
    # Entered out of order: the repeat injection first, then the first one (earlier date).
    add_row(
        response,
        data,
        "administrations",
        **{**VALID_ADMINISTRATION, "administered_on": "2025-04-01", "cell_dose_millions": "55"},
    )
    add_row(
        response,
        data,
        "administrations",
        **{
            **VALID_ADMINISTRATION,
            "product_type": "prp",
            "cell_dose_millions": "",
            "viability_pct": "",
            "harvest_volume_ml": "",
        },
    )
    assert _saved(alice_client.post(url, data))
    episode = TreatmentEpisode.objects.get()
    assert first(episode) == ("prp", "autologous", None) == computed(episode)


def test_the_copy_follows_every_edit_delete_and_move_of_an_administration(patient_a):
    episode = factories.EpisodeFactory(patient=patient_a, index_date=date(2025, 3, 1))
    other = factories.EpisodeFactory(patient=patient_a, index_date=date(2025, 3, 1), side="left")
    assert first(episode) == (None, None, None)
    bmac = factories.AdministrationFactory(
        episode=episode, administered_on=date(2025, 3, 1), cell_dose_millions=Decimal("30.00")
    )
    assert first(episode) == ("bmac", "autologous", Decimal("30.00"))
    prp = factories.AdministrationFactory(
        episode=episode,
        administered_on=date(2025, 4, 1),
        product_type="prp",
        cell_dose_millions=None,
        tissue="none",
        harvest_site="none",
    )
    assert first(episode) == ("bmac", "autologous", Decimal("30.00"))  # a later one changes nothing
    bmac.administered_on = date(2025, 5, 1)
    bmac.save()
    assert first(episode) == ("prp", "autologous", None)  # moved after the PRP
    prp.delete()
    assert first(episode) == ("bmac", "autologous", Decimal("30.00"))
    bmac.cell_dose_millions = Decimal("12.50")
    bmac.save()
    assert first(episode)[2] == Decimal("12.50")
    bmac.episode = other
    bmac.save()
    assert first(episode) == (None, None, None)  # both episodes of a move
    assert first(other) == ("bmac", "autologous", Decimal("12.50"))


def test_saving_an_episode_loaded_before_an_administration_was_added_keeps_the_copy(patient_a):
    episode = factories.EpisodeFactory(patient=patient_a)
    stale = TreatmentEpisode.objects.get(pk=episode.pk)  # e.g. a form opened before
    factories.AdministrationFactory(episode=episode)
    stale.bmi = Decimal("31.0")
    stale.save()
    assert first(episode) == ("bmac", "autologous", Decimal("30.00")) == computed(episode)
    assert stale.first_product_type == "bmac"  # the instance in memory too


def test_the_migration_fills_the_copy_of_every_existing_episode(patient_a):
    episodes = [make_episode(patient_a, product="prp", dose=None, administrations=3), make_episode(patient_a)]
    bare = factories.EpisodeFactory(patient=patient_a, side="left")
    TreatmentEpisode.objects.update(first_product_type="other", first_source="na", first_cell_dose_millions=1)
    migration = importlib.import_module("registry.migrations.0004_episode_first_administration")
    migration.backfill(django_apps, None)
    assert [first(e) for e in episodes] == [("prp", "autologous", None), ("bmac", "autologous", Decimal("30.00"))]
    assert first(bare) == (None, None, None)


def test_researchers_see_the_first_administration_and_filter_on_it(api_a, site_a):
    second_subject(site_a, product="prp", dose=None)  # a site's rows are released from k subjects (k=2 here)
    episode = make_episode(make_patient(site_a), product="bmac", dose=Decimal("30.0"))
    pid = episode_id(episode)
    row = api_a.get(f"/api/v1/treatments/{pid}/").json()
    assert (row["product_type"], row["source"], row["cell_dose_millions"]) == ("bmac", "autologous", 30.0)
    # An earlier injection recorded afterwards (e.g. from a paper chart) becomes the first administration.
    factories.AdministrationFactory(
        episode=episode,
        administered_on=episode.index_date,
        product_type="allogeneic_msc",
        source="allogeneic",
        tissue="umbilical_cord",
        harvest_site="donor",
        cell_dose_millions=Decimal("50.0"),
    )
    # ... and the BMAC's date is corrected to a month later.
    bmac = Administration.objects.get(episode=episode, product_type="bmac")
    bmac.administered_on = episode.index_date + timedelta(days=30)
    bmac.save()
    row = api_a.get(f"/api/v1/treatments/{pid}/").json()
    assert (row["product_type"], row["source"], row["cell_dose_millions"]) == ("allogeneic_msc", "allogeneic", 50.0)
    assert [r["episode_id"] for r in api_a.all_pages("/api/v1/treatments/", product_type="allogeneic_msc")] == [pid]
    assert api_a.all_pages("/api/v1/treatments/", product_type="bmac") == []
