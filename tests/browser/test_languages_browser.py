"""A Korean patient in a real browser (Debian's Chromium through Playwright, phone size): the Korean email's link
opens Korean pages, the patient answers them in Korean and sends; the language switch changes the page to
English and back. Screenshots land in the test's tmp_path (set SCREENSHOTS_DIR to keep them)."""

from __future__ import annotations

import os
import re
import shutil
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail

from outcomes.models import Response
from registry.models import PatientIdentity
from tests import factories
from tests.browser.chromium import ARGS, CHROMIUM, playwright_session
from tests.browser.test_journey_browser import PHONE, dispatch_and_send, go, link_of, new_page, no_sideways_scroll

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

START = datetime(2026, 6, 10, 1, 0, tzinfo=UTC)
HANGUL = re.compile(r"[\uac00-\ud7a3]")


@pytest.fixture
def browser(monkeypatch, live_server, settings):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    settings.REGISTRY_BASE_URL = live_server.url
    with playwright_session() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


def shot(page, tmp_path, name: str) -> None:
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 8_000, name
    if os.environ.get("SCREENSHOTS_DIR"):
        shutil.copy(path, os.environ["SCREENSHOTS_DIR"])


def test_a_korean_patient_answers_korean_pages_on_a_phone(browser, live_server, tmp_path):
    errors: list[str] = []
    site = factories.SiteFactory(code="SEOUL", name="서울 관절 클리닉", contact_phone="+82 2 555 0100")
    with time_machine.travel(START, tick=True):
        patient = factories.PatientFactory(site=site, identity__preferred_language="ko")
        index = START.date() - timedelta(days=95)
        factories.EpisodeFactory(patient=patient, joint="knee", side="left", index_date=index)
        dispatch_and_send(datetime.now(tz=UTC))
        email = mail.outbox[-1]
        assert email.extra_headers["Content-Language"] == "ko" and HANGUL.search(email.subject)

        phone = new_page(browser, errors, **PHONE)
        phone.goto(link_of(email))
        assert phone.locator("html").get_attribute("lang") == "ko"
        landing = phone.content()
        assert "왼쪽 무릎" in landing and "시작" in landing, landing
        shot(phone, tmp_path, "ko-landing")
        assert no_sideways_scroll(phone)
        # The switch names each language in itself; the current one is marked and cannot be chosen again.
        current = phone.locator("header .languages button[aria-current]")
        assert current.inner_text() == "한국어" and current.is_disabled()
        go(phone, phone.locator("header .languages button", has_text="English"))
        assert phone.locator("html").get_attribute("lang") == "en" and "Left knee" in phone.content()
        shot(phone, tmp_path, "switched-to-english")
        go(phone, phone.locator("header .languages button", has_text="한국어"))
        assert phone.locator("html").get_attribute("lang") == "ko"

        go(phone, phone.locator("a.button").first)
        pages = 0
        while "/p/q/summary/" not in phone.url:
            pages += 1
            body = phone.content()
            assert HANGUL.search(body) and "Page" not in phone.locator("main").inner_text(), body
            if phone.locator("input[name=item_vas_mm]").count():
                phone.fill("input[name=item_vas_mm]", "35")
            else:
                for fieldset in phone.locator("fieldset.item").all():
                    fieldset.locator("label").nth(1).click()
            if pages == 1:
                shot(phone, tmp_path, "ko-page-1")
                assert no_sideways_scroll(phone)
            go(phone, phone.locator("main form:not(.tablet-back) button[type=submit]").first)
        shot(phone, tmp_path, "ko-summary")
        go(phone, phone.locator("main form button[type=submit]").last)
        assert HANGUL.search(phone.content())
        shot(phone, tmp_path, "ko-thanks")
    assert Response.objects.filter(follow_up__episode__patient=patient).count() >= 1
    assert PatientIdentity.objects.get(patient=patient).preferred_language == "ko"
    assert not errors, errors


def test_a_korean_patient_gives_consent_on_the_phone_from_a_text_and_answers_in_korean(browser, live_server, tmp_path):
    from outcomes.texting import outbox as text_outbox
    from registry.demo_consent import demo_consent_load
    from registry.models import ConsentDecision, Patient

    errors: list[str] = []
    site = factories.SiteFactory(
        code="SEOUL", name="서울 관절 클리닉", country="KR", time_zone="Asia/Seoul", contact_phone="+82 2 555 0100"
    )
    demo_consent_load(sites=[site])
    with time_machine.travel(START, tick=True):
        patient = factories.PatientFactory(
            site=site,
            consent_version="",
            consent_date=None,
            consent_follow_up=False,
            consent_research=False,
            contact_channel="both",
            identity__preferred_language="ko",
            identity__mobile="+821000004321",
        )
        factories.EpisodeFactory(
            patient=patient, joint="knee", side="left", index_date=START.date() - timedelta(days=95)
        )
        dispatch_and_send(datetime.now(tz=UTC))
        email = mail.outbox[-1]
        assert "동의서" in email.body and "/p/withdraw/" in email.body
        [text] = text_outbox
        assert text.body.startswith("서울 관절 클리닉: 치료 결과 추적 관찰 레지스트리 참여 여부를 여쭙니다")
        link = re.search(r"(http\S+/p/(?!withdraw)[\w-]+/)", text.body).group(1)

        phone = new_page(browser, errors, **PHONE)
        phone.goto(link)
        assert phone.url.endswith("/p/q/consent/")
        assert phone.locator("html").get_attribute("lang") == "ko"
        body = phone.locator("main").inner_text()
        assert "병원 치료 결과 레지스트리 참여 안내" in body and "데모용 문구" in body, body
        shot(phone, tmp_path, "ko-consent")
        assert no_sideways_scroll(phone)
        # Sending without a choice: the page says what is missing, in Korean, and records nothing.
        go(phone, phone.locator("main form button[type=submit]"))
        assert "세 가지 답변 중 하나를 선택해 주십시오." in phone.locator(".error-summary").inner_text()
        assert not ConsentDecision.objects.exists()
        phone.locator("label", has_text="예, 참여하겠습니다").click()
        go(phone, phone.locator("main form button[type=submit]"))
        assert phone.url.endswith("/p/q/") and "왼쪽 무릎" in phone.content()
        shot(phone, tmp_path, "ko-after-consent")
        go(phone, phone.locator("a.button").first)
        while "/p/q/summary/" not in phone.url:
            if phone.locator("input[name=item_vas_mm]").count():
                phone.fill("input[name=item_vas_mm]", "35")
            else:
                for fieldset in phone.locator("fieldset.item").all():
                    fieldset.locator("label").nth(1).click()
            go(phone, phone.locator("main form:not(.tablet-back) button[type=submit]").first)
        go(phone, phone.locator("main form button[type=submit]").last)
        assert HANGUL.search(phone.content())
    decision = ConsentDecision.objects.get(patient=patient)
    assert (decision.decision, decision.version, decision.language, decision.channel) == (
        "agree",
        "demo-1",
        "ko",
        "sms",
    )
    patient = Patient.objects.get(pk=patient.pk)
    assert patient.consent_research and patient.consent_version == "demo-1"
    assert Response.objects.filter(follow_up__episode__patient=patient).count() >= 1
    assert not errors, errors
