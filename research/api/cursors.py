"""Opaque cursors: a page's position sealed so that it says nothing and cannot be forged.

DRF's cursor is the base64 of `p=<ordering key>`: the key is a row's database id (an episode's, a follow-up's),
so walking `?page_size=1` would map every pseudonym to its id, which de-identification promises never to release.
Here the cursor's text is encrypted and authenticated with keys derived from SECRET_KEY (Django's salted_hmac):

    cursor = urlsafe_base64( nonce (16 bytes) || text XOR keystream || tag (16 bytes) )

The keystream is HMAC-SHA256(stream key, nonce || block number), block by block (a PRF in counter mode); the
tag is HMAC-SHA256(tag key, nonce || ciphertext), cut to 16 bytes, checked before anything is decrypted
(encrypt-then-MAC). A random nonce makes two cursors for the same position look unrelated. Changing SECRET_KEY
invalidates open cursors: the client starts from the first page again.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import os

from django.utils.crypto import salted_hmac

NONCE = 16
TAG = 16
BLOCK = 32  # bytes of SHA-256


class BadCursor(ValueError):
    pass


def _keystream(nonce: bytes, length: int) -> bytes:
    blocks = (length + BLOCK - 1) // BLOCK
    stream = b"".join(
        salted_hmac("research.cursor.stream", nonce + n.to_bytes(4, "big"), algorithm="sha256").digest()
        for n in range(blocks)
    )
    return stream[:length]


def _tag(nonce: bytes, sealed: bytes) -> bytes:
    return salted_hmac("research.cursor.tag", nonce + sealed, algorithm="sha256").digest()[:TAG]


def seal(text: str) -> str:
    plain = text.encode()
    nonce = os.urandom(NONCE)
    sealed = bytes(a ^ b for a, b in zip(plain, _keystream(nonce, len(plain)), strict=True))
    return base64.urlsafe_b64encode(nonce + sealed + _tag(nonce, sealed)).decode().rstrip("=")


def unseal(cursor: str) -> str:
    """The text of a cursor made by `seal`; BadCursor for anything else (tampered, truncated, another key's)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (binascii.Error, ValueError):
        raise BadCursor from None
    if len(raw) < NONCE + TAG:
        raise BadCursor
    nonce, sealed, tag = raw[:NONCE], raw[NONCE:-TAG], raw[-TAG:]
    if not hmac.compare_digest(tag, _tag(nonce, sealed)):
        raise BadCursor
    try:
        return bytes(a ^ b for a, b in zip(sealed, _keystream(nonce, len(sealed)), strict=True)).decode()
    except UnicodeDecodeError:
        raise BadCursor from None
