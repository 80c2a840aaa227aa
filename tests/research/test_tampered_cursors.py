"""A tampered cursor is a 400 with a reason, never a 500."""

from __future__ import annotations

import base64

import pytest

pytestmark = pytest.mark.django_db


def _cursor(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize("position", ["1'", "1e5", "999999999999999999999", "-1", "1.5", "²"])
@pytest.mark.parametrize("path", ["/api/v1/treatments/", "/api/v1/scores/", "/api/v1/scores/wide/"])
def test_tampered_positions_are_refused(api_a, position, path):
    response = api_a.get(path, cursor=_cursor(f"p={position}"))
    assert response.status_code == 400, (path, position, response.status_code)
    assert "Invalid cursor" in response.content.decode()

