"""Opaque cursors: a page's position sealed so that it says nothing and cannot be forged.

DRF's cursor is the base64 of `p=<ordering key>`: the key is a row's database id (an episode's, a follow-up's),
so walking `?page_size=1` would map every pseudonym to its id, which de-identification promises never to release.
Here the cursor's text is encrypted and authenticated with AES-256-GCM (the `cryptography` package's AEAD, not a
construction of our own), under a key derived from SECRET_KEY with HKDF-SHA256:

    cursor = urlsafe_base64( nonce (12 random bytes) || AES-GCM ciphertext || tag (16 bytes) )

A random nonce makes two cursors for the same position look unrelated; a changed byte, a truncated cursor or one
sealed under another key fails the tag and is refused before anything is read. A cursor sealed under a key in
SECRET_KEY_FALLBACKS still opens while that key is listed, so rotating SECRET_KEY as Django documents does not
break a client mid-walk; once the old key is dropped, its cursors are refused and the client starts again from the
first page.
"""

from __future__ import annotations

import base64
import binascii
import functools
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

NONCE = 12  # bytes: the nonce size AES-GCM is specified for (NIST SP 800-38D)
TAG = 16
PURPOSE = b"research.cursor/aes-256-gcm/1"  # HKDF info and the AEAD's associated data
MAX_LENGTH = 2048  # characters: far above any real cursor; longer text is refused unread


class BadCursor(ValueError):
    pass


@functools.lru_cache(maxsize=8)
def _cipher(secret: str) -> AESGCM:
    key = HKDF(algorithm=SHA256(), length=32, salt=None, info=PURPOSE).derive(secret.encode())
    return AESGCM(key)


def seal(text: str) -> str:
    nonce = os.urandom(NONCE)
    sealed = _cipher(settings.SECRET_KEY).encrypt(nonce, text.encode(), PURPOSE)
    return base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")


def unseal(cursor: str) -> str:
    """The text of a cursor made by `seal` (under SECRET_KEY or one of its fallbacks); BadCursor for anything
    else (tampered, truncated, another key's, not base64)."""
    if len(cursor) > MAX_LENGTH:
        raise BadCursor
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (binascii.Error, ValueError):
        raise BadCursor from None
    if len(raw) < NONCE + TAG:
        raise BadCursor
    nonce, sealed = raw[:NONCE], raw[NONCE:]
    for secret in (settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", ())):
        try:
            plain = _cipher(secret).decrypt(nonce, sealed, PURPOSE)
        except InvalidTag:
            continue
        try:
            return plain.decode()
        except UnicodeDecodeError:
            raise BadCursor from None
    raise BadCursor
