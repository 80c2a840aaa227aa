"""A coordinator at site A never lists, finds, opens or assigns anything of site B, in any admin."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests import factories

pytestmark = pytest.mark.django_db


def _make(model: str, patient) -> object:
    """One object of `model` belonging to `patient`'s site."""
    episode = factories.EpisodeFactory(patient=patient) if model != "patient" else None
    return {
        "patient": lambda: patient,
        "treatmentepisode": lambda: episode,
        "administration": lambda: factories.AdministrationFactory(episode=episode),
        "adverseevent": lambda: factories.AdverseEventFactory(episode=episode),
        "subsequentsurgery": lambda: factories.SurgeryFactory(episode=episode),
    }[model]()


CLINICAL = ["patient", "treatmentepisode", "administration", "adverseevent", "subsequentsurgery"]


@pytest.mark.parametrize("model", CLINICAL)
def test_it_lists_only_own_site_rows(alice_client, patient_a, patient_b, model):
    mine, theirs = _make(model, patient_a), _make(model, patient_b)
    response = alice_client.get(reverse(f"admin:registry_{model}_changelist"))
    assert response.status_code == 200
    shown = {obj.pk for obj in response.context["cl"].result_list}
    assert mine.pk in shown
    assert theirs.pk not in shown


@pytest.mark.parametrize("model", CLINICAL)
def test_it_returns_404_for_another_sites_row_by_id(alice_client, patient_b, model):
    theirs = _make(model, patient_b)
    for view in ("change", "history"):
        response = alice_client.get(reverse(f"admin:registry_{model}_{view}", args=[theirs.pk]))
        assert response.status_code == 404, view


@pytest.mark.parametrize("model", CLINICAL)
def test_it_opens_own_site_row(alice_client, patient_a, model):
    mine = _make(model, patient_a)
    for view in ("change", "history"):
        response = alice_client.get(reverse(f"admin:registry_{model}_{view}", args=[mine.pk]))
        assert response.status_code == 200, view


def test_it_finds_no_other_site_patient_by_search(alice_client, patient_a, patient_b):
    url = reverse("admin:registry_patient_changelist")
    assert patient_b.pk not in {p.pk for p in alice_client.get(url, {"q": "Bandicoot"}).context["cl"].result_list}
    assert patient_b.pk not in {
        p.pk for p in alice_client.get(url, {"q": patient_b.registry_id}).context["cl"].result_list
    }
    assert patient_a.pk in {p.pk for p in alice_client.get(url, {"q": "Aardvark"}).context["cl"].result_list}


@pytest.mark.parametrize(
    ("model_name", "field_name"),
    [
        ("treatmentepisode", "patient"),
        ("treatmentepisode", "protocol"),
        ("administration", "episode"),
        ("adverseevent", "episode"),
        ("subsequentsurgery", "episode"),
    ],
)
def test_autocomplete_offers_only_own_site(alice_client, patient_a, patient_b, model_name, field_name):
    own = {
        "patient": patient_a,
        "episode": factories.EpisodeFactory(patient=patient_a),
        "protocol": factories.ProtocolFactory(site=patient_a.site),
    }
    factories.EpisodeFactory(patient=patient_b)
    factories.ProtocolFactory(site=patient_b.site)
    response = alice_client.get(
        reverse("admin:autocomplete"),
        {"app_label": "registry", "model_name": model_name, "field_name": field_name, "term": ""},
    )
    assert response.status_code == 200
    assert [int(r["id"]) for r in response.json()["results"]] == [own[field_name].pk]


def test_autocomplete_search_finds_own_patient_not_other(alice_client, patient_a, patient_b):
    url = reverse("admin:autocomplete")
    params = {"app_label": "registry", "model_name": "treatmentepisode", "field_name": "patient"}
    assert [r["id"] for r in alice_client.get(url, {**params, "term": "Bandicoot"}).json()["results"]] == []
    assert [int(r["id"]) for r in alice_client.get(url, {**params, "term": "Aardvark"}).json()["results"]] == [
        patient_a.pk
    ]


def _episode_post(patient_pk: int, **extra) -> dict:
    data = {
        "patient": patient_pk,
        "joint": "knee",
        "side": "left",
        "spinal_level": "",
        "diagnosis": "primary_oa",
        "kl_grade": "2",
        "index_date": "2025-03-01",
        "bmi": "27.0",
        "protocol": "",
        "change_reason": "",
    }
    for prefix in ("administrations", "adverse_events", "surgeries"):
        data.update(
            {
                f"{prefix}-TOTAL_FORMS": "0",
                f"{prefix}-INITIAL_FORMS": "0",
                f"{prefix}-MIN_NUM_FORMS": "0",
                f"{prefix}-MAX_NUM_FORMS": "1000",
            }
        )
    data.update(extra)
    return data


def test_it_refuses_to_assign_an_episode_to_another_sites_patient(alice_client, patient_b):
    from registry.models import TreatmentEpisode

    response = alice_client.post(reverse("admin:registry_treatmentepisode_add"), _episode_post(patient_b.pk))
    assert response.status_code == 200
    assert "patient" in response.context["adminform"].form.errors
    assert not TreatmentEpisode.objects.exists()


def test_it_refuses_another_sites_protocol(alice_client, patient_a, patient_b):
    from registry.models import TreatmentEpisode

    their_protocol = factories.ProtocolFactory(site=patient_b.site)
    response = alice_client.post(
        reverse("admin:registry_treatmentepisode_add"), _episode_post(patient_a.pk, protocol=their_protocol.pk)
    )
    assert "protocol" in response.context["adminform"].form.errors
    assert not TreatmentEpisode.objects.exists()


def test_patient_form_offers_only_own_sites(alice_client, site_a, site_b):
    response = alice_client.get(reverse("admin:registry_patient_add"))
    choices = {c for c, _ in response.context["adminform"].form.fields["site"].choices if c}
    assert {int(str(c)) for c in choices} == {site_a.pk}


@pytest.mark.parametrize(
    "url_name",
    ["admin:registry_site_changelist", "admin:registry_protocol_changelist", "admin:registry_membership_changelist"],
)
def test_site_level_lists_are_scoped(alice_client, site_a, site_b, url_name):
    factories.ProtocolFactory(site=site_a, name="Protocol of A")
    factories.ProtocolFactory(site=site_b, name="Protocol of B")
    factories.staff_user("bob", site_b)
    response = alice_client.get(reverse(url_name))
    assert response.status_code == 200
    rows = response.context["cl"].result_list
    assert {obj.pk if url_name.endswith("site_changelist") else obj.site_id for obj in rows} == {site_a.pk}


def test_registry_admin_sees_every_site(charlie_client, patient_a, patient_b):
    response = charlie_client.get(reverse("admin:registry_patient_changelist"))
    assert {p.pk for p in response.context["cl"].result_list} == {patient_a.pk, patient_b.pk}
    assert charlie_client.get(reverse("admin:registry_patient_change", args=[patient_b.pk])).status_code == 200


def test_coordinator_cannot_delete_clinical_data(alice_client, patient_a):
    response = alice_client.get(reverse("admin:registry_patient_delete", args=[patient_a.pk]))
    assert response.status_code == 403


def test_withdrawn_membership_removes_access(client, site_a, patient_a):
    user = factories.staff_user("dora", site_a)
    user.memberships.update(active=False)
    client.force_login(user)
    response = client.get(reverse("admin:registry_patient_change", args=[patient_a.pk]))
    assert response.status_code == 404  # the site is no longer theirs: its patients are not there for them


def test_no_user_a_deactivated_user_or_an_anonymous_one_sees_any_site(alice, site_a, patient_a):
    """The rule itself, whatever reaches it (a task, a report, a view): only an active, signed-in account with an
    active membership sees a site. HTTP alone would not show it: Django signs a deactivated user's session out."""
    from django.contrib.auth.models import AnonymousUser

    from registry.access import sites_visible_to
    from registry.models import Patient

    assert list(sites_visible_to(alice)) == [site_a]
    assert list(Patient.objects.visible_to(alice)) == [patient_a]
    alice.is_active = False  # the membership stays active: only the account is switched off
    for nobody in (None, AnonymousUser(), alice):
        assert not sites_visible_to(nobody).exists(), nobody
        assert not Patient.objects.visible_to(nobody).exists(), nobody


def test_identity_never_shown_on_other_sites_changelist(alice_client, patient_b):
    response = alice_client.get(reverse("admin:registry_patient_changelist"))
    assert b"Bandicoot" not in response.content
