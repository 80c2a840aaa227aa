"""Researcher API keys: created by the registry administrator, shown once, stored hashed, scoped to sites, with
expiry, revocation and last use; a key reads only and never reaches the admin."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from research.models import ApiKey
from research.services import api_key_create, api_key_revoke
from tests.research.conftest import ApiClient

pytestmark = pytest.mark.django_db
SCORES = "/api/v1/scores/"


def test_it_returns_the_raw_key_once_and_stores_only_its_hash(site_a):
    key, raw = api_key_create(name="Study", sites=[site_a], tier="rows")
    stored = ApiKey.objects.get(pk=key.pk)
    assert raw.startswith("rk_") and len(raw) > 40
    assert stored.key_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert raw not in {str(getattr(stored, f.attname)) for f in ApiKey._meta.concrete_fields}
    assert raw.startswith(stored.prefix) and len(stored.prefix) < 12
    assert list(stored.sites.all()) == [site_a]


def test_it_refuses_a_key_without_sites_or_with_a_past_expiry(site_a):
    with pytest.raises(ValidationError):
        api_key_create(name="Study", sites=[], tier="rows")
    with pytest.raises(ValidationError):
        api_key_create(name="Study", sites=[site_a], tier="rows", expires_at=timezone.now() - timedelta(days=1))


def test_a_valid_key_reads_and_records_last_use(client, site_a):
    key, raw = api_key_create(name="Study", sites=[site_a], tier="rows")
    assert key.last_used_at is None
    response = ApiClient(client, raw).get(SCORES)
    assert response.status_code == 200
    key.refresh_from_db()
    assert key.last_used_at is not None


@pytest.mark.parametrize(
    "header",
    ["", "Token", "Token rk_not-a-real-key", "Bearer rk_x", "Token rk_a rk_b"],
)
def test_it_answers_401_without_a_valid_key(client, site_a, header):
    response = client.get(SCORES, headers={"Authorization": header} if header else {})
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


def test_a_revoked_key_is_refused(client, site_a):
    key, raw = api_key_create(name="Study", sites=[site_a], tier="rows")
    api_key_revoke(key=key)
    response = ApiClient(client, raw).get(SCORES)
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]


def test_an_expired_key_is_refused(client, site_a):
    key, raw = api_key_create(name="Study", sites=[site_a], tier="rows", expires_at=timezone.now() + timedelta(days=30))
    assert ApiClient(client, raw).get(SCORES).status_code == 200
    with time_machine.travel(timezone.now() + timedelta(days=31)):
        response = ApiClient(client, raw).get(SCORES)
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


def test_a_key_only_reads(client, site_a):
    _, raw = api_key_create(name="Study", sites=[site_a], tier="rows")
    for method in ("post", "put", "patch", "delete"):
        response = getattr(client, method)(SCORES, headers={"Authorization": f"Token {raw}"})
        assert response.status_code == 405, method  # the API has no writes: Method Not Allowed, with Allow
        assert "POST" not in response["Allow"] and "GET" in response["Allow"]
    anonymous = client.post(SCORES)
    # Without a key, nothing is said about methods: 401, naming the scheme that would authenticate.
    assert anonymous.status_code == 401 and anonymous["WWW-Authenticate"] == "Token"


def test_a_key_never_reaches_the_admin(client, site_a):
    _, raw = api_key_create(name="Study", sites=[site_a], tier="rows")
    response = client.get("/admin/registry/patient/", headers={"Authorization": f"Token {raw}"})
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_a_staff_session_does_not_open_the_research_api(alice_client, charlie_client):
    # The API authenticates by key only: a session is no credential there, so 401 (not 403: nobody is known).
    for response in (alice_client.get(SCORES), charlie_client.get(SCORES)):
        assert response.status_code == 401 and response["WWW-Authenticate"] == "Token"


@pytest.mark.parametrize("tier", ["rows", "summary"])
def test_the_administrator_creates_a_key_in_the_admin_and_sees_it_once(client, charlie_client, site_a, site_b, tier):
    response = charlie_client.post(
        reverse("admin:research_apikey_add"),
        {"name": "KOOS study", "tier": tier, "sites": [site_a.pk], "expires_at_0": ""},
    )
    assert response.status_code == 200, response.content[:2000]
    key = ApiKey.objects.get(name="KOOS study")
    page = response.content.decode()
    raw = re.search(r'<input id="raw-key" type="text" readonly value="([^"]+)"', page).group(1)
    assert key.key_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert list(key.sites.all()) == [site_a]
    assert key.created_by.username == "charlie"
    # The page names the sites, warns of no expiry, and says what this key's tier reads.
    assert "reads the data of SITEA (Site A clinic), with no expiry: revoke it when the study ends." in page
    assert f"Tier: <strong>{tier}</strong>." in page
    if tier == "rows":
        assert "every row-level dataset" in page and "Each row-level request is logged." in page
        assert "A request for rows is refused" not in page
    else:
        assert "It reads aggregates only" in page and "A request for rows is refused (403)." in page
        assert "every row-level dataset" not in page
    # The command it offers works with this key (a summary key is offered a summary, never rows).
    example = re.search(r'"https?://testserver(/api/v1/[^"]+)"', page).group(1).replace("&amp;", "&")
    assert client.get(example, headers={"Authorization": f"Token {raw}"}).status_code == 200, example
    # Never shown again: not on the change page, not in the list.
    for url in (reverse("admin:research_apikey_change", args=[key.pk]), reverse("admin:research_apikey_changelist")):
        assert raw not in charlie_client.get(url).content.decode()


def test_the_administrator_revokes_keys_with_an_action(charlie_client, site_a):
    key, raw = api_key_create(name="Study", sites=[site_a], tier="rows")
    response = charlie_client.post(
        reverse("admin:research_apikey_changelist"), {"action": "revoke", "_selected_action": [key.pk]}
    )
    assert response.status_code == 302
    key.refresh_from_db()
    assert key.status == "revoked"


def test_site_staff_cannot_see_keys_or_pseudonyms(alice_client, site_a):
    api_key_create(name="Study", sites=[site_a], tier="rows")
    for name in ("apikey", "subjectpseudonym", "episodepseudonym"):
        assert alice_client.get(reverse(f"admin:research_{name}_changelist")).status_code == 403


def test_the_key_list_filters_by_the_status_it_shows(charlie_client, site_a):
    active = api_key_create(name="Active study", sites=[site_a], tier="rows")[0]
    soon = timezone.now() + timedelta(minutes=1)
    expired = api_key_create(name="Ended study", sites=[site_a], tier="rows", expires_at=soon)[0]
    revoked = api_key_revoke(key=api_key_create(name="Withdrawn study", sites=[site_a], tier="rows")[0])
    url = reverse("admin:research_apikey_changelist")
    with time_machine.travel(soon + timedelta(seconds=1), tick=False):
        page = charlie_client.get(url).content.decode()
        assert "By status" in page and "revoked at" not in page.lower()  # the status, not a database column
        for status, key in (("active", active), ("expired", expired), ("revoked", revoked)):
            response = charlie_client.get(url, {"status": status})
            listed = {k.pk for k in response.context["cl"].result_list}
            assert listed == {key.pk}, status
            assert {k.status for k in response.context["cl"].result_list} == {status}
        unfiltered = charlie_client.get(url, {"status": "nonsense"})
        assert unfiltered.status_code == 200 and len(unfiltered.context["cl"].result_list) == 3


def test_the_add_form_says_what_the_sites_are_not_how_to_hold_control(charlie_client):
    page = charlie_client.get(reverse("admin:research_apikey_add")).content.decode()
    assert "The sites whose data the key reads." in page
    assert "Hold down" not in page  # Django's hint for a multiple-select list; this is the two-box chooser


def test_a_second_key_in_use_with_the_same_name_is_refused_and_nothing_is_saved(charlie_client, site_a):
    api_key_create(name="KOOS study (Dr Park)", sites=[site_a], tier="rows")
    url = reverse("admin:research_apikey_add")
    response = charlie_client.post(
        url, {"name": "  koos STUDY   (Dr Park) ", "tier": "summary", "sites": [site_a.pk], "expires_at_0": ""}
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["name"] == [
        "A key in use is already named “koos STUDY (Dr Park)”. Name each key by its holder and study, so the list and "
        "the request log tell them apart; if this key replaces that one, revoke that one first."
    ]
    assert ApiKey.objects.count() == 1 and "raw-key" not in response.content.decode()
    # Once the old key is revoked, the name is free again; the new one is stored with its spaces tidied.
    api_key_revoke(key=ApiKey.objects.get())
    response = charlie_client.post(
        url, {"name": "  KOOS study   (Dr Park) ", "tier": "summary", "sites": [site_a.pk], "expires_at_0": ""}
    )
    assert response.status_code == 200 and 'id="raw-key"' in response.content.decode()
    assert ApiKey.objects.filter(revoked_at__isnull=True).get().name == "KOOS study (Dr Park)"


def test_renaming_a_key_to_another_keys_name_is_refused_but_keeping_its_own_is_not(charlie_client, site_a):
    first = api_key_create(name="Study A", sites=[site_a], tier="rows")[0]
    second = api_key_create(name="Study B", sites=[site_a], tier="rows")[0]
    url = reverse("admin:research_apikey_change", args=[second.pk])
    response = charlie_client.post(url, {"name": "Study A", "sites": [site_a.pk], "expires_at_0": ""})
    assert response.status_code == 200 and "already named “Study A”" in response.content.decode()
    second.refresh_from_db()
    assert second.name == "Study B"
    response = charlie_client.post(url, {"name": "Study B", "sites": [site_a.pk], "expires_at_0": ""})
    assert response.status_code == 302
    assert first.name == "Study A"


def test_the_sites_filter_offers_the_sites_and_no_empty_choice(charlie_client, site_a, site_b):
    api_key_create(name="Study", sites=[site_a], tier="rows")
    response = charlie_client.get(reverse("admin:research_apikey_changelist"))
    [sites] = [f for f in response.context["cl"].filter_specs if f.title == "sites"]
    choices = [str(c["display"]) for c in sites.choices(response.context["cl"])]
    assert choices == ["All", str(site_a), str(site_b)]  # not Django's "-" for keys without a site: none exist
