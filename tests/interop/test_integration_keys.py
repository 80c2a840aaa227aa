"""Integration keys: created by the registry administrator in the admin, the secret shown once and stored hashed;
coordinators cannot see or make them."""

from __future__ import annotations

import re

import pytest

from interop.models import IntegrationKey
from interop.services import integration_key_find, integration_key_hash

pytestmark = pytest.mark.django_db


def test_the_administrator_creates_a_key_and_sees_the_secret_once(charlie_client, site_a):
    response = charlie_client.post("/admin/interop/integrationkey/add/", {"name": "Hospital HIS", "site": site_a.pk})
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    raw = re.search(r'id="raw-key"[^>]*>(ik_[\w-]+)<', response.content.decode()).group(1)
    key = IntegrationKey.objects.get()
    assert key.site == site_a and key.key_hash == integration_key_hash(raw) and raw not in key.key_hash
    assert integration_key_find(raw_key=raw) == key
    page = charlie_client.get(f"/admin/interop/integrationkey/{key.pk}/change/").content.decode()
    assert raw not in page and key.prefix in page


def test_coordinators_cannot_see_or_create_keys(alice_client, site_a):
    assert alice_client.get("/admin/interop/integrationkey/").status_code == 403
    assert alice_client.post("/admin/interop/integrationkey/add/", {"name": "x", "site": site_a.pk}).status_code == 403
    assert not IntegrationKey.objects.exists()
