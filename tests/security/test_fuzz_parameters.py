"""Garbage in every captured id of every URL pattern and in every research API parameter: never a 500 (issue 21,
item 5). Like the access matrix, the routes come from the URL resolver and the API's parameters from its OpenAPI
schema, so a new page or parameter is fuzzed without being listed here.

Slow on purpose (about 600 admin and 900 API requests, some seconds each test on an idle machine): the point is
to reach every route and parameter; the garbage list is kept short for that reason."""

from __future__ import annotations

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from research.services import api_key_create
from tests.conftest import login

pytestmark = pytest.mark.django_db

# Not a number, a digit to str.isdigit only, past 64 bits, a NUL, a number with no row. (tests/security/test_bad_ids.py
# tries more spellings on the registry's own views.)
GARBAGE = ["abc", "²", "999999999999999999999", "%00", "987654321"]
API_GARBAGE = ["1'", "1e5", "²", "999999999999999999999", "\x00", "1" * 400]
CAPTURE = re.compile(r"<(?:\w+:)?(\w+)>|\(\?P<(\w+)>[^)]*\)")
ID_NAMES = re.compile(r"(^|_)(id|pk)$")


@pytest.fixture(autouse=True)
def _no_rate_limits(settings):
    settings.PATIENT_RATE_LIMIT = 100_000
    settings.RESEARCH_RATE_LIMIT = "100000/min"
    settings.RESEARCH_CSV_RATE_LIMIT = "100000/min"


def _walk(patterns, prefix=""):
    for p in patterns:
        if isinstance(p, URLResolver):
            yield from _walk(p.url_patterns, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            yield prefix + str(p.pattern)


def _captured_routes() -> list[str]:
    return sorted({r for r in _walk(get_resolver().url_patterns) if CAPTURE.search(r)})


def _fill(route: str, value: str) -> str:
    path = CAPTURE.sub(value, route).replace("^", "").replace("$", "").replace("\\", "")
    return "/" + path.lstrip("/")


def test_every_captured_id_of_every_route_is_a_400_or_404(client, charlie, patient_a):
    """As the registry administrator, who reaches every admin view's parsing (site staff often stop earlier). A
    captured id answers 400 or 404 (403 where the page is refused to everyone); any other capture, no 500."""
    login(client, charlie)
    client.raise_request_exception = False
    routes = _captured_routes()
    assert len(routes) > 50
    failures = []
    for route in routes:
        names = [a or b for a, b in CAPTURE.findall(route)]
        for bad in GARBAGE:
            url = _fill(route, bad)
            # Followed: Django's bare <id>/ redirects to the change page, which must then say 404.
            status = client.get(url, follow=True).status_code
            ids = any(ID_NAMES.search(n) for n in names)
            # 403: a page nobody may use (deleting a message, a key), refused before the id is read.
            if status >= 500 or (ids and status not in (400, 403, 404)):
                failures.append((url, status))
    assert failures == []


def _api_parameters(client, raw_key) -> dict[str, list[str]]:
    schema = client.get("/api/v1/schema/", {"format": "json"}).json()
    found: dict[str, list[str]] = {}
    for path, operations in schema["paths"].items():
        if "{" in path:
            path = re.sub(r"\{[^}]+\}", "E-GARBAGE", path)
        for operation in operations.values():
            found["/" + path.lstrip("/")] = [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]
    return found


def test_every_api_parameter_with_garbage_is_a_400_never_a_500(client, site_a, patient_a):
    _, raw_key = api_key_create(name="fuzz", sites=[site_a], tier="rows")
    headers = {"Authorization": f"Token {raw_key}"}
    client.raise_request_exception = False
    parameters = _api_parameters(client, raw_key)
    assert "/api/v1/treatments/" in parameters and "cursor" in parameters["/api/v1/treatments/"]
    failures = []
    for path, names in parameters.items():
        for name in names:
            for bad in API_GARBAGE:
                response = client.get(path, {name: bad}, headers=headers)
                if response.status_code >= 500 or (response.status_code == 200 and name in ("cursor", "page_size")):
                    failures.append((path, name, bad, response.status_code))
    assert failures == []
