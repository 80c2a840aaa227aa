"""The research API answers the same bytes whatever language the browser asks for or the staff chose in the admin
(project.middleware.ResearchInEnglishMiddleware): JSON keys and values, CSV headers, the data dictionary, summaries
and error messages."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client

BROWSERS = [
    {},
    {"accept-language": "ko-KR,ko;q=0.9"},
    {"accept-language": "ja"},
    {"accept-language": "zh-TW,zh;q=0.8"},
    {"accept-language": "zh-CN"},
]
REQUESTS = [
    "/api/v1/treatments/",
    "/api/v1/treatments/?format=csv",
    "/api/v1/administrations/?format=csv",
    "/api/v1/scores/?format=csv",
    "/api/v1/adverse-events/",
    "/api/v1/dictionary/",
    "/api/v1/summaries/scores/?instrument=koos",
    "/api/v1/treatments/?no_such_parameter=1",  # 400, its message
    "/api/v1/scores/?format=xlsx",  # 400 naming the format
    "/api/v1/treatments/?cursor=bad",  # 400 naming the cursor
]


def _body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


@pytest.mark.django_db
def test_every_research_answer_is_byte_identical_whatever_the_language(cohort, key_ab):
    for path in REQUESTS:
        answers = set()
        for headers in BROWSERS:
            for cookie in (None, "ko", "zh-hant"):
                client = Client()
                if cookie:
                    client.cookies[settings.LANGUAGE_COOKIE_NAME] = cookie
                response = client.get(path, headers={"authorization": f"Token {key_ab}", **headers})
                assert response["Content-Language"] == "en", path
                answers.add((response.status_code, response["Content-Type"], _body(response)))
        assert len(answers) == 1, f"{path} answers differently by language"


@pytest.mark.django_db
def test_a_refused_key_is_refused_in_the_same_words_whatever_the_language(db):
    answers = {
        Client().get("/api/v1/treatments/", headers={"authorization": "Token rk_nope", **headers}).content
        for headers in BROWSERS
    }
    answers |= {Client().get("/api/v1/treatments/", headers=headers).content for headers in BROWSERS}
    assert len(answers) == 2  # a wrong key, and none
