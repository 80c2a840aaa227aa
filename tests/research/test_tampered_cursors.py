"""Cursors are opaque (no database id can be read from them) and a tampered one is a 400 with a reason, never a
500 (issue 21, item 5)."""

from __future__ import annotations

import base64

import pytest

from research.api import cursors
from research.models import EpisodePseudonym

pytestmark = pytest.mark.django_db

PATHS = ["/api/v1/treatments/", "/api/v1/scores/", "/api/v1/scores/wide/"]


def _drf_cursor(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize("position", ["1", "1'", "1e5", "999999999999999999999", "-1", "1.5", "²"])
@pytest.mark.parametrize("path", PATHS)
def test_tampered_positions_are_refused(api_a, position, path):
    # DRF's own cursor (base64 of p=<id>) is not accepted at all; nor is a sealed one with a bad position.
    for cursor in (_drf_cursor(f"p={position}"), *([] if position == "1" else [cursors.seal(f"p={position}")])):
        response = api_a.get(path, cursor=cursor)
        assert response.status_code == 400, (path, position, response.status_code)
        assert "Invalid cursor" in response.content.decode()


@pytest.mark.parametrize("path", PATHS)
def test_a_cursor_s_bytes_changed_is_refused(api_a, path):
    sealed = cursors.seal("p=1")
    flipped = sealed[:-3] + ("A" if sealed[-3] != "A" else "B") + sealed[-2:]
    for cursor in (flipped, sealed[:-4], "", "%%%", "A" * 10_000):
        assert api_a.get(path, cursor=cursor).status_code == 400, cursor


def test_pages_follow_sealed_cursors_that_carry_no_id(api_a, cohort):
    """Walking page by page reaches every row once; no cursor reads as an id, two cursors never repeat."""
    rows, seen = [], []
    response = api_a.get("/api/v1/treatments/", page_size=1)
    while True:
        body = response.json()
        rows += body["results"]
        if not body["next"]:
            break
        cursor = body["next"].split("cursor=")[1].split("&")[0]
        seen.append(cursor)
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        # Random ciphertext may hold the two bytes "p=" by chance; what must never be there is the position itself
        # or a readable DRF cursor (base64 of ASCII text).
        plain = cursors.unseal(cursor).encode()
        assert plain.startswith(b"p=") and plain not in text and not text.isascii(), text
        response = api_a.get("/api/v1/treatments/", page_size=1, cursor=cursor)
    assert (
        len(rows)
        == len({r["episode_id"] for r in rows})
        == EpisodePseudonym.objects.filter(
            episode__patient__site__code="SITEA",
            episode__patient__consent_research=True,
            episode__patient__withdrawn_on__isnull=True,
        ).count()
    )
    assert len(set(seen)) == len(seen)


def test_the_same_position_seals_differently_and_opens_the_same():
    a, b = cursors.seal("p=42"), cursors.seal("p=42")
    assert a != b and cursors.unseal(a) == cursors.unseal(b) == "p=42"


def test_a_cursor_outlives_a_key_rotation_while_the_old_key_is_a_fallback(api_a, cohort, settings):
    """Rotating SECRET_KEY as Django documents (the old one moved to SECRET_KEY_FALLBACKS) keeps a client's walk
    going; once the old key is dropped, its cursor is a 400 and only a new walk works."""
    first = api_a.get("/api/v1/treatments/", page_size=1).json()
    cursor = first["next"].split("cursor=")[1].split("&")[0]
    old = settings.SECRET_KEY
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "rotated-" + old, [old]
    second = api_a.get("/api/v1/treatments/", page_size=1, cursor=cursor)
    assert second.status_code == 200, second.content
    assert second.json()["results"] and second.json()["results"] != first["results"]
    settings.SECRET_KEY_FALLBACKS = []
    refused = api_a.get("/api/v1/treatments/", page_size=1, cursor=cursor)
    assert refused.status_code == 400 and "Invalid cursor" in refused.content.decode()
    with pytest.raises(cursors.BadCursor):
        cursors.unseal(cursor)
    assert api_a.get("/api/v1/treatments/", page_size=1).status_code == 200


def test_a_cursor_is_aes_gcm_under_a_key_derived_from_secret_key(settings):
    """The format the module states: 12-byte nonce, then ciphertext and 16-byte tag, opened by AES-256-GCM under
    HKDF-SHA256(SECRET_KEY) with the purpose as associated data; any other associated data fails."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from cryptography.hazmat.primitives.hashes import SHA256
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    raw = base64.urlsafe_b64decode((c := cursors.seal("p=7")) + "=" * (-len(c) % 4))
    assert len(raw) == 12 + len("p=7") + 16
    key = HKDF(algorithm=SHA256(), length=32, salt=None, info=cursors.PURPOSE).derive(settings.SECRET_KEY.encode())
    assert AESGCM(key).decrypt(raw[:12], raw[12:], cursors.PURPOSE) == b"p=7"
    with pytest.raises(InvalidTag):
        AESGCM(key).decrypt(raw[:12], raw[12:], b"another purpose")
