"""The client's address, the one every per-address rule keys on: the login lockout (django-axes, through
AXES_CLIENT_IP_CALLABLE, and so its access log), the patient pages' rate limit and gunicorn's access log.

REGISTRY_TRUSTED_PROXIES says how many reverse proxies stand in front of the registry, each appending the address
it received the request from to X-Forwarded-For (nginx's `$proxy_add_x_forwarded_for`, Traefik, Caddy, HAProxy's
`option forwardfor` do). The rule:

- 0 (the default): the address of the connection, REMOTE_ADDR. X-Forwarded-For is never read: anyone may send it.
- N proxies: the N-th entry of X-Forwarded-For counted from the right, the one the outermost trusted proxy wrote.
  Entries to its left are whatever the client sent and are never looked at, so a forged left-most entry changes
  nothing. A header with fewer than N entries did not pass every proxy, and an entry that is not an address was
  not written by one: both fall back to REMOTE_ADDR.

This is the rule of Werkzeug's ProxyFix (`x_for=N`) and of DRF's NUM_PROXIES (set to the same count in settings).

Why not django-ipware's `get_client_ip(proxy_count=...)` (8.0.0, its default "modern" algorithm, probed with the
cases of tests/security/test_client_ip.py):
its `proxy_count` counts the proxies *listed in the header besides the client*, so `proxy_count=0` already trusts
the right-most entry of a header anyone can send (0 cannot mean "no proxy"); with its default `strict=True` one
forged entry makes the count mismatch and the header is skipped, so the request falls back to the proxy's address
that every patient shares; `proxy_order="right-most"` takes the entry at that position counted from the left,
which the client writes; and with `proxy_count>=1` a request without the header gets None instead of its
connection's address. Only one combination (left-most, not strict, `proxy_count=N-1`, the header alone in
`request_header_order`) matches the rule above, by an off-by-one that a later release may well change again.
The rule is ten lines; it is written here and pinned by tests/security/test_client_ip.py.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from django.conf import settings


def client_ip(request: Any) -> str | None:
    """The client's address for a Django request (AXES_CLIENT_IP_CALLABLE points here)."""
    return client_ip_from_meta(request.META)


def client_ip_from_meta(meta: Mapping[str, Any], trusted_proxies: int | None = None) -> str | None:
    """The client's address from a WSGI environ or request.META (gunicorn's access log passes its environ)."""
    proxies = settings.REGISTRY_TRUSTED_PROXIES if trusted_proxies is None else trusted_proxies
    remote = _address(meta.get("REMOTE_ADDR")) or meta.get("REMOTE_ADDR") or None
    if proxies <= 0:
        return remote
    forwarded = meta.get("HTTP_X_FORWARDED_FOR")
    if not isinstance(forwarded, str):
        return remote
    # Several X-Forwarded-For header lines arrive joined by commas (WSGI, gunicorn), in the order they came.
    entries = [entry.strip() for entry in forwarded.split(",")]
    if len(entries) < proxies:
        return remote
    return _address(entries[-proxies]) or remote


def _address(value: Any) -> str | None:
    """An IP address in canonical form (IPv4-mapped IPv6 as IPv4), a port or IPv6 brackets dropped; else None."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text.startswith("["):  # [2001:db8::1] or [2001:db8::1]:443
        text = text[1:].split("]", 1)[0]
    elif text.count(":") == 1:  # 192.0.2.1:443 (an IPv6 address has at least two colons)
        text = text.split(":", 1)[0]
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return str(ip)
