"""A patient on a phone: the emailed link opens in the system Chromium (Playwright), KOOS and the pain VAS are
answered and sent. Skipped where Chromium is not installed, unless REQUIRE_BROWSER=1 (CI) makes that a failure."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail

from outcomes import dispatcher, outbox
from outcomes.models import Score
from tests import factories
from tests.browser.chromium import ARGS, CHROMIUM, playwright_session

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def browser_page(monkeypatch):
    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls are still synchronous.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with playwright_session() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(
            viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True, has_touch=True
        )
        page = context.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.console_errors = errors
        yield page
        browser.close()


def test_a_patient_completes_koos_and_vas_on_a_phone(live_server, browser_page, site_a, tmp_path, settings):
    settings.REGISTRY_BASE_URL = live_server.url
    today = datetime.now(tz=UTC).date()
    patient = factories.PatientFactory(site=site_a)
    episode = factories.EpisodeFactory(patient=patient, index_date=today - timedelta(days=100))
    report = dispatcher.dispatch()
    for message_id in report.due:
        outbox.message_send(message_id=message_id)
    link = re.search(r"(http://\S+/p/(?!optout)[\w-]+/)", mail.outbox[0].body).group(1)

    page = browser_page
    page.goto(link)
    assert "How are you doing" in page.content()
    page.get_by_role("link", name="Start").click()
    # KOOS one subscale a page: every item, tap the second answer (large labels are the touch targets).
    for number in range(1, 6):
        assert f"Page {number} of 6" in page.content() and f"Part {number} of 5" in page.content()
        for fieldset in page.locator("fieldset.item").all():
            fieldset.locator("label").nth(1).click()
        page.get_by_role("button", name="Save and continue").click()
    assert "Page 6 of 6" in page.content(), page.content()
    slider = page.locator("input[type=range]")
    # JavaScript shows the slider once its deferred script has run; the number box is the field.
    slider.wait_for(state="visible", timeout=5000)
    assert "vas-unset" in (slider.get_attribute("class") or "")  # no thumb until the patient chooses
    page.fill("input[name=item_vas_mm]", "35")
    assert slider.input_value() == "35" and "vas-unset" not in (slider.get_attribute("class") or "")
    page.screenshot(path=str(tmp_path / "vas.png"), full_page=True)
    assert (tmp_path / "vas.png").stat().st_size > 10_000  # a rendered page, not a blank one
    page.get_by_role("button", name="Save and review").click()
    page.get_by_role("button", name="Send my answers").click()
    assert "Thank you" in page.content()
    assert page.console_errors == []

    m3 = episode.follow_ups.get(timepoint="m3")
    assert m3.status == "completed"
    assert Score.objects.get(follow_up=m3, instrument="vas").value == 35.0
    assert Score.objects.get(follow_up=m3, instrument="koos", key="pain").value == 75.0


def test_the_questionnaire_works_without_javascript(live_server, site_a, monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from django.conf import settings as dj_settings

    monkeypatch.setattr(dj_settings, "REGISTRY_BASE_URL", live_server.url)
    today = datetime.now(tz=UTC).date()
    factories.EpisodeFactory(patient=factories.PatientFactory(site=site_a), index_date=today - timedelta(days=100))
    for message_id in dispatcher.dispatch().due:
        outbox.message_send(message_id=message_id)
    link = re.search(r"(http://\S+/p/(?!optout)[\w-]+/)", mail.outbox[0].body).group(1)
    with playwright_session() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_context(java_script_enabled=False, viewport={"width": 390, "height": 844}).new_page()
        page.goto(link)
        assert "How are you doing" in page.content(), page.content()
        page.get_by_role("link", name="Start").click()
        page.get_by_role("button", name="Save and continue").click()  # nothing answered
        assert "Some answers are missing" in page.content()
        for _ in range(5):  # the KOOS subscales
            for fieldset in page.locator("fieldset.item").all():
                fieldset.locator("label").nth(0).click()
            page.get_by_role("button", name="Save and continue").click()
        assert not page.locator("input[type=range]").is_visible()
        page.fill("input[name=item_vas_mm]", "0")
        page.keyboard.press("Enter")
        page.get_by_role("button", name="Send my answers").click()
        assert "Thank you" in page.content()
        browser.close()
