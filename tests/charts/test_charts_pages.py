"""The chart pages over HTTP: who may see which, data scoping, suppression marked, the CSP-safe embedding."""

from __future__ import annotations

import json
import re

import pytest
from django.contrib.staticfiles import finders
from django.test import Client
from django.urls import reverse

from outcomes.models import FollowUpSettings
from research.services import api_key_create
from tests import factories

pytestmark = pytest.mark.django_db


def figures(html: str) -> dict[str, dict]:
    """The figures embedded as <script type="application/json" id="fig-…">."""
    return {
        m.group(1): json.loads(m.group(2))
        for m in re.finditer(r'<script id="(fig-[\w-]+)" type="application/json">(.*?)</script>', html, re.S)
    }


def test_plotly_js_is_served_by_the_registry():
    found = finders.find("vendor/plotly.min.js")
    assert found and found.endswith("plotly/package_data/plotly.min.js")
    assert finders.find("outcomes/charts.js")


# Episode page ---------------------------------------------------------------------------------------------


def test_the_episode_page_draws_each_instrument(alice_client, episode_a):
    response = alice_client.get(reverse("admin:registry_treatmentepisode_change", args=[episode_a.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    figs = figures(html)
    assert set(figs) == {
        "fig-episode-koos",
        "fig-episode-womac_from_koos",
        "fig-episode-koos_jr_from_koos",
        "fig-episode-koos12_from_koos",
        "fig-episode-vas",
    }
    vas = figs["fig-episode-vas"]["data"][0]
    assert vas["y"] == [62.0, 35.0]
    assert vas["customdata"][0][2] == "Phone"
    assert "vendor/plotly.min.js" in html and "outcomes/charts.js" in html
    assert "<figcaption" in html and "Table of the numbers" in html


def test_another_sites_episode_is_a_404(alice_client, episode_b):
    response = alice_client.get(reverse("admin:registry_treatmentepisode_change", args=[episode_b.pk]))
    assert response.status_code == 404


def test_no_inline_script_on_chart_pages(alice_client, episode_a):
    html = alice_client.get(reverse("admin:registry_treatmentepisode_change", args=[episode_a.pk])).content.decode()
    for tag in re.findall(r"<script\b[^>]*>", html):
        assert "src=" in tag or 'type="application/json"' in tag, tag
    assert not re.search(r"\son(click|load|change|submit)=", html)


# Site dashboard -------------------------------------------------------------------------------------------


def test_a_coordinator_sees_only_their_own_site(alice_client, site_a, site_b, episode_a, episode_b):
    response = alice_client.get(reverse("site_dashboard"))
    assert response.status_code == 200
    html = response.content.decode()
    assert f'<option value="{site_a.pk}" selected' in html
    assert f'value="{site_b.pk}"' not in html and "SITEB" not in html
    figs = figures(html)
    assert set(figs) == {"fig-completion", "fig-response-rate", "fig-call-list", "fig-adverse-events", "fig-treatments"}
    completed = figs["fig-completion"]["data"][0]
    assert completed["name"] == "Completed"
    assert sum(completed["y"]) == 2  # alice's baseline and 3 months, not bob's


def test_another_sites_id_is_a_404(alice_client, site_b, site_a):
    assert alice_client.get(reverse("site_dashboard"), {"site": site_b.pk}).status_code == 404
    assert alice_client.get(reverse("site_dashboard"), {"site": "x"}).status_code == 404
    assert alice_client.get(reverse("site_dashboard"), {"site": site_a.pk}).status_code == 200


def test_the_registry_administrator_picks_any_site(charlie_client, site_a, site_b, episode_a, episode_b):
    html = charlie_client.get(reverse("site_dashboard")).content.decode()
    assert "All sites" in html and "SITEA" in html and "SITEB" in html
    assert sum(figures(html)["fig-completion"]["data"][0]["y"]) == 4
    html = charlie_client.get(reverse("site_dashboard"), {"site": site_b.pk}).content.decode()
    assert sum(figures(html)["fig-completion"]["data"][0]["y"]) == 2


def test_adverse_events_and_treatments_are_counted_for_the_site(alice_client, episode_a, episode_b):
    factories.AdverseEventFactory(episode=episode_a, grade=2, onset_date=episode_a.index_date)
    factories.AdverseEventFactory(episode=episode_b, grade=3, onset_date=episode_b.index_date)
    factories.AdministrationFactory(episode=episode_a, administered_on=episode_a.index_date)
    figs = figures(alice_client.get(reverse("site_dashboard")).content.decode())
    ae = figs["fig-adverse-events"]["data"]
    assert [t["name"] for t in ae] == ["Grade 2"] and sum(ae[0]["y"]) == 1
    assert sum(sum(t["y"]) for t in figs["fig-treatments"]["data"]) == 1


def test_the_site_dashboard_needs_a_staff_login(client, db):
    response = client.get(reverse("site_dashboard"))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_staff_without_a_site_are_refused(client, db):
    client.force_login(factories.UserFactory(username="nosite", is_staff=True))
    assert client.get(reverse("site_dashboard")).status_code == 403


# Cohort dashboard -----------------------------------------------------------------------------------------


@pytest.fixture
def cohort(site_a, alice, answered):
    """12 subjects with KOOS at baseline and 3 months: over the suppression threshold of 11 in one group."""
    for _ in range(12):
        answered(factories.PatientFactory(site=site_a), alice)


def test_the_registry_administrator_sees_the_cohort_figures(charlie_client, cohort, settings):
    response = charlie_client.get(reverse("cohort_dashboard"), {"score": "koos.pain", "group_by": ""})
    assert response.status_code == 200
    html = response.content.decode()
    figs = figures(html)
    assert set(figs) == {"fig-trajectory", "fig-responders", "fig-km"}
    trajectory = figs["fig-trajectory"]["data"]
    assert len(trajectory) == 1 and trajectory[0]["name"] == "All episodes"
    assert trajectory[0]["y"][0] == pytest.approx(50.0)  # KOOS pain with every item at 2
    # De-identified: no registry IDs or names.
    from registry.models import Patient

    assert not any(p.registry_id in html for p in Patient.objects.all())
    assert "Aardvark" not in html and "Amelia" not in html


def test_the_cohort_figures_draw_the_koos_jr_derived_from_the_koos(charlie_client, cohort):
    response = charlie_client.get(reverse("cohort_dashboard"), {"score": "koos_jr_from_koos.interval", "group_by": ""})
    assert response.status_code == 200
    html = response.content.decode()
    trajectory = figures(html)["fig-trajectory"]["data"]
    assert trajectory[0]["y"][0] == pytest.approx(52.465)  # every KOOS item at 2: KOOS JR raw 14 (SCORING-2.md)
    assert "(from the KOOS)" in html


def test_the_cohort_numbers_are_the_apis(charlie_client, cohort, site_a, charlie):
    from registry.models import Site

    _key, raw = api_key_create(name="study", sites=list(Site.objects.all()), tier="rows")
    api = (
        Client()
        .get("/api/v1/summaries/scores/", {"instrument": "koos", "key": "pain"}, HTTP_AUTHORIZATION=f"Token {raw}")
        .json()
    )
    figs = figures(charlie_client.get(reverse("cohort_dashboard"), {"group_by": ""}).content.decode())
    means = [tp["level"]["mean"] for tp in api["groups"][0]["timepoints"] if tp["level"]["mean"] is not None]
    assert figs["fig-trajectory"]["data"][0]["y"] == means


def test_suppressed_cells_are_marked_not_drawn(charlie_client, site_a, alice, answered):
    for _ in range(3):  # 3 subjects: under 11
        answered(factories.PatientFactory(site=site_a), alice)
    html = charlie_client.get(reverse("cohort_dashboard"), {"group_by": ""}).content.decode()
    figs = figures(html)
    assert figs["fig-trajectory"]["data"][0]["y"] == []
    notes = [a for a in figs["fig-trajectory"]["layout"]["annotations"] if a.get("name") == "suppressed"]
    assert notes and all(n["text"].startswith("✕") and "fewer than 11" in n["hovertext"] for n in notes)
    assert "suppressed (fewer than 11)" in html


@pytest.mark.parametrize("who", ["alice", "anonymous"])
def test_others_get_the_key_page_without_data(client, alice, cohort, who):
    if who == "alice":
        client.force_login(alice)
    response = client.get(reverse("cohort_dashboard"))
    assert response.status_code == 200
    html = response.content.decode()
    assert figures(html) == {}
    assert 'id="cohort-key-form"' in html and "sessionStorage" in html


@pytest.mark.parametrize(
    ("language", "no_key", "refused"),
    [
        ("ko", "차트를 보려면 연구용 API 키를 입력하십시오.", "키가 승인되지 않았습니다"),
        ("ja", "グラフを表示するには研究用 API キーを入力してください。", "キーが受け付けられませんでした"),
    ],
)
def test_the_key_pages_messages_are_in_its_language(client, db, language, no_key, refused):
    """The script's status messages (no key, loading, refused, failed) come from the page, in the page's language."""
    html = client.get(reverse("cohort_dashboard"), headers={"accept-language": language}).content.decode()
    assert f'data-no-key="{no_key}"' in html and refused in html and "HTTP {status}" in html
    assert "Enter your research API key" not in html


def test_the_figures_endpoint_needs_a_research_key(client, alice, cohort):
    client.force_login(alice)  # a staff session is not a research key
    assert client.get(reverse("cohort_figures")).status_code == 401  # the key is the only credential there


def test_a_researchers_key_draws_only_its_sites(client, cohort, site_b, bob, charlie, answered):
    for _ in range(12):
        answered(factories.PatientFactory(site=site_b), bob, vas=(80, 70))
    _key, raw = api_key_create(name="B only", sites=[site_b], tier="rows")
    response = client.get(
        reverse("cohort_figures"), {"score": "vas.vas_mm", "group_by": "site"}, HTTP_AUTHORIZATION=f"Token {raw}"
    )
    assert response.status_code == 200
    charts = {c["id"]: c for c in response.json()["charts"]}
    trajectory = charts["trajectory"]["figure"]["data"]
    assert [t["name"] for t in trajectory] == ["SITEB"]
    assert trajectory[0]["y"] == [80.0, 70.0]
    assert "<figcaption" in charts["trajectory"]["html"]


def test_a_bad_choice_is_refused(charlie_client):
    assert charlie_client.get(reverse("cohort_dashboard"), {"group_by": "name"}).status_code == 400


# Patient --------------------------------------------------------------------------------------------------


def _patient_session(client, patient):
    from outcomes.models import AccessToken
    from outcomes.patient_views import SESSION_KEY
    from registry import clock

    token = AccessToken.objects.create(
        token_hash="x" * 64, patient=patient, expires_at=clock.now() + __import__("datetime").timedelta(days=9)
    )
    session = client.session
    session[SESSION_KEY] = token.pk
    session.save()
    return token


def test_the_patient_sees_their_own_pain_and_function(client, patient_a, episode_a, episode_b):
    _patient_session(client, patient_a)
    response = client.get(reverse("outcomes:patient_thanks"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "Before treatment: 62. Now: 35. Lower is better." in html
    assert "Your pain (0 = none, 100 = worst)" in html
    assert "Your daily activities (0 = extreme problems, 100 = no problems)" in html
    figs = figures(html)
    assert len(figs) == 2
    assert all(f["data"][0]["x"][0] == "Before<br>treatment" for f in figs.values())
    assert "80" not in [t for f in figs.values() for t in f["data"][0]["text"]]  # not bob's patient


def test_a_site_can_switch_the_patient_chart_off(client, patient_a, episode_a, site_a):
    FollowUpSettings.objects.create(site=site_a, show_patient_chart=False)
    _patient_session(client, patient_a)
    html = client.get(reverse("outcomes:patient_thanks")).content.decode()
    assert "Thank you" in html and figures(html) == {} and "plotly" not in html


def test_the_admin_index_links_the_dashboards(alice_client, charlie):
    html = alice_client.get(reverse("admin:index")).content.decode()
    assert reverse("site_dashboard") in html and reverse("cohort_dashboard") not in html
    alice_client.force_login(charlie)
    html = alice_client.get(reverse("admin:index")).content.decode()
    assert reverse("site_dashboard") in html and reverse("cohort_dashboard") in html
