"""Ids that are not ids, in the registry's own admin views and the dashboard: 404, never a 500."""

from __future__ import annotations

import pytest

from tests.conftest import login

pytestmark = pytest.mark.django_db

BAD = ["abc", "121.0", "²", "1e5", "999999999999999999999"]
PATTERNS = [
    "/admin/registry/patient/{}/anonymise/",
    "/admin/registry/patient/{}/export/",
    "/admin/registry/patient/{}/history/",
    "/admin/registry/treatmentepisode/{}/done/",
    "/admin/registry/treatmentepisode/{}/cancel/",
    "/admin/outcomes/followup/{}/enter/koos/",
    "/admin/outcomes/followup/{}/tablet/",
    "/admin/outcomes/followup/{}/call/",
    "/admin/outcomes/followup/{}/resolve/koos/",
    "/admin/outcomes/followup/{}/change/",
    "/admin/outcomes/worklist/{}/change/",
    "/admin/outcomes/worklist/{}/history/",
]


@pytest.mark.parametrize("persona", ["alice", "charlie"])
def test_bad_ids_are_not_found(client, alice, charlie, persona):
    login(client, alice if persona == "alice" else charlie)
    client.raise_request_exception = False
    for pattern in PATTERNS:
        for bad in BAD:
            url = pattern.format(bad)
            status = client.get(url).status_code
            assert status == 404, (url, status)  # not Django's redirect to the index for a missing object
    for bad in BAD:
        assert client.get("/admin/dashboard/site/", {"site": bad}).status_code == 404, bad
