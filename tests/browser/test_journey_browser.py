"""The journey in a real browser (Debian's Chromium through Playwright), as people live it:

- a coordinator (1366 x 768) registers a knee treatment planned a month ahead; the baseline email goes out at
  once; the patient (phone, 390 x 844) answers it page by page; on the day the coordinator marks the treatment
  done; three months later the 3-month link works;
- a patient with two knees bundled in one email finds, the next day, that one window closed: what they answered
  is kept and the page says so;
- the clinic tablet from the worklist: the coordinator's click, the patient's answers, the screen that names
  nobody, and the staff login asked again.

Time moves with time-machine (ticking), which the live server's thread follows too. Screenshots of every step
land in the test's tmp_path; each is checked to be a rendered page.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail

from outcomes import dispatcher, outbox
from outcomes.models import FollowUp, Response
from registry.models import TreatmentEpisode
from tests import factories
from tests.browser.chromium import ARGS, CHROMIUM, playwright_session

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

START = datetime(2026, 6, 10, 1, 0, tzinfo=UTC)  # sites on UTC: 1 a.m. leaves the whole day for the test
DESKTOP = {"viewport": {"width": 1366, "height": 768}}
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}


@pytest.fixture
def browser(monkeypatch, live_server, settings):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    settings.REGISTRY_BASE_URL = live_server.url
    with playwright_session() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


def new_page(browser, errors: list[str], **options):
    page = browser.new_context(**options).new_page()
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    return page


def shot(page, tmp_path, name: str) -> None:
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 8_000, name  # a rendered page, not a blank one


def log_in(page, live_server, username: str) -> None:
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "a-long-test-password")
    go(page, page.get_by_role("button", name="Log in"))
    assert "/admin/login/" not in page.url, page.content()


def go(page, locator) -> None:
    """Click something that loads a new page, and wait for it."""
    with page.expect_navigation():
        locator.click()


def no_sideways_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def dispatch_and_send(now: datetime) -> None:
    for message_id in dispatcher.dispatch(now=now).due:
        outbox.message_send(message_id=message_id, now=now)


def link_of(message) -> str:
    return re.search(r"(http://\S+/p/(?!optout)[\w-]+/)", message.body).group(1)


def answer_all_pages(page, tmp_path, prefix: str, vas: str = "42") -> int:
    """Answer every page the way a patient taps; returns the number of pages."""
    pages = 0
    while "/p/q/summary/" not in page.url:
        pages += 1
        assert f"Page {pages} of" in page.content(), page.content()
        if page.locator("input[name=item_vas_mm]").count():
            slider = page.locator("input[type=range]")
            assert "vas-unset" in (slider.get_attribute("class") or "")  # nothing looks chosen yet
            assert page.locator("input[name=item_vas_mm]").input_value() == ""
            page.fill("input[name=item_vas_mm]", vas)
        else:
            for fieldset in page.locator("fieldset.item").all():
                fieldset.locator("label").nth(1).click()
        if pages == 3:
            shot(page, tmp_path, f"{prefix}-page-3")
            assert no_sideways_scroll(page)
        go(page, page.locator("main form:not(.tablet-back) button[type=submit]"))
    return pages


def test_planned_treatment_baseline_done_and_three_months(browser, live_server, site_a, alice, tmp_path):
    errors: list[str] = []
    patient = factories.PatientFactory(site=site_a, identity__given_name="Mina", identity__family_name="Okafor")
    planned_for = START.date() + timedelta(days=30)
    with time_machine.travel(START, tick=True):
        staff = new_page(browser, errors, **DESKTOP)
        log_in(staff, live_server, "alice")
        staff.goto(f"{live_server.url}/admin/registry/treatmentepisode/add/?patient={patient.pk}")
        staff.select_option("select[name=status]", "planned")
        staff.fill("input[name=index_date]", planned_for.isoformat())
        staff.select_option("select[name=joint]", "knee")
        staff.select_option("select[name=side]", "left")
        go(staff, staff.get_by_role("button", name="Save", exact=True))
        assert "was added successfully" in staff.content(), staff.content()
        episode = TreatmentEpisode.objects.get(patient=patient)
        assert episode.status == "planned"
        assert episode.follow_ups.get(timepoint="baseline").status == "open"
        dispatch_and_send(datetime.now(tz=UTC))
        assert len(mail.outbox) == 1 and f"the end of {planned_for:%-d %B %Y}" in mail.outbox[0].body

        phone = new_page(browser, errors, **PHONE)
        phone.goto(link_of(mail.outbox[0]))
        landing = phone.content()
        assert "Left knee, before your treatment" in landing and "about 9 minutes (6 pages)" in landing
        shot(phone, tmp_path, "baseline-landing")
        go(phone, phone.get_by_role("link", name="Start"))
        assert answer_all_pages(phone, tmp_path, "baseline") == 6
        go(phone, phone.get_by_role("button", name="Send my answers"))
        assert "Thank you" in phone.content()
        assert episode.follow_ups.get(timepoint="baseline").status == "completed"

    on_the_day = datetime.combine(planned_for, datetime.min.time(), tzinfo=UTC) + timedelta(hours=8)
    with time_machine.travel(on_the_day, tick=True):
        staff = new_page(browser, errors, **DESKTOP)
        log_in(staff, live_server, "alice")
        staff.goto(f"{live_server.url}/admin/registry/treatmentepisode/{episode.pk}/change/")
        assert f"Planned for {planned_for:%-d %B %Y}." in staff.content()  # English dates spelt out, day first
        shot(staff, tmp_path, "episode-planned")
        go(staff, staff.get_by_role("link", name="Mark as done…"))
        assert staff.locator("input[name=index_date]").input_value() == planned_for.isoformat()
        go(staff, staff.get_by_role("button", name="Record the treatment as done"))
        assert "recorded as done" in staff.content(), staff.content()
        episode.refresh_from_db()
        assert episode.status == "done" and episode.index_date == planned_for

    three_months = on_the_day + timedelta(days=91)
    with time_machine.travel(three_months, tick=True):
        dispatch_and_send(datetime.now(tz=UTC))
        assert len(mail.outbox) == 2
        phone = new_page(browser, errors, **PHONE)
        phone.goto(link_of(mail.outbox[1]))
        assert "Left knee, 3 months after your treatment" in phone.content()
        go(phone, phone.get_by_role("link", name="Start"))
        assert answer_all_pages(phone, tmp_path, "m3", vas="20") == 6
        go(phone, phone.get_by_role("button", name="Send my answers"))
        assert "Thank you" in phone.content()
    m3 = episode.follow_ups.get(timepoint="m3")
    assert m3.status == "completed" and m3.scores.get(instrument="vas").value == 20.0
    assert errors == []


def test_a_window_closing_in_a_bundle_keeps_the_answers(browser, live_server, site_a, tmp_path):
    errors: list[str] = []
    patient = factories.PatientFactory(site=site_a)
    with time_machine.travel(START, tick=True):
        today = START.date()
        left = factories.EpisodeFactory(patient=patient, side="left", index_date=today - timedelta(days=120))
        factories.EpisodeFactory(patient=patient, side="right", index_date=today - timedelta(days=70))
        dispatch_and_send(datetime.now(tz=UTC))
        assert len(mail.outbox) == 1 and "4 short questionnaires" in mail.outbox[0].body
        phone = new_page(browser, errors, **PHONE)
        phone.goto(link_of(mail.outbox[0]))
        assert phone.content().count("3 months after your treatment") == 4
        go(phone, phone.get_by_role("link", name="Start"))
        assert "Left knee, 3 months after your treatment" in phone.content()
        for fieldset in phone.locator("fieldset.item").all():
            fieldset.locator("label").nth(2).click()
        go(phone, phone.get_by_role("button", name="Save and continue"))
    with time_machine.travel(START + timedelta(days=1), tick=True):
        phone = new_page(browser, errors, **PHONE)
        phone.goto(link_of(mail.outbox[0]))
        text = phone.content()
        assert "We have kept the answers you gave" in text and "Left knee, 3 months after your treatment" in text
        shot(phone, tmp_path, "window-closed")
        go(phone, phone.get_by_role("link", name="Continue"))
        assert "Right knee" in phone.content() and "Left knee" not in phone.content()
    kept = FollowUp.objects.get(episode=left, timepoint="m3")
    assert kept.status == "partial" and Response.objects.get(follow_up=kept).instrument == "koos"
    assert errors == []


def test_the_clinic_tablet_from_the_worklist(browser, live_server, site_a, alice, tmp_path):
    errors: list[str] = []
    patient = factories.PatientFactory(site=site_a, identity__given_name="Jun", identity__family_name="Sato")
    with time_machine.travel(START, tick=True):
        episode = factories.EpisodeFactory(
            patient=patient, side="right", status="planned", index_date=START.date() + timedelta(days=1)
        )
        tablet = new_page(browser, errors, **DESKTOP)
        log_in(tablet, live_server, "alice")
        tablet.goto(f"{live_server.url}/admin/outcomes/worklist/")
        assert no_sideways_scroll(tablet)
        # Every column visible at 1366 x 768: the results box does not scroll sideways, the phone is on one line.
        widths = tablet.evaluate(
            "(() => { const r = document.querySelector('.results'); return [r.scrollWidth, r.clientWidth]; })()"
        )
        shot(tablet, tmp_path, "worklist")
        assert widths[0] <= widths[1], widths
        phone_cell = tablet.locator("td.field-phone span.nowrap").first
        assert phone_cell.bounding_box()["height"] < 30
        shot(tablet, tmp_path, "worklist")
        row = tablet.locator("tr", has_text="Sato")
        go(tablet, row.get_by_role("link", name="Tablet…"))
        assert "Jun Sato" in tablet.content() and "your staff session on this device ends" in tablet.content()
        go(tablet, tablet.get_by_role("button", name="Hand over the tablet now"))
        assert "Right knee, before your treatment" in tablet.content()
        go(tablet, tablet.get_by_role("link", name="Start"))
        assert answer_all_pages(tablet, tmp_path, "tablet") == 6
        go(tablet, tablet.get_by_role("button", name="Send my answers"))
        text = tablet.content()
        assert "hand the tablet back" in text and "Sato" not in text and "Jun" not in text
        shot(tablet, tmp_path, "tablet-done")
        assert errors == []
        tablet.go_back()  # the next person at the tablet tries the browser's back button
        tablet.reload()
        assert "Sato" not in tablet.content() and "This link cannot be used" in tablet.content()
        # The neutral page only: its 404 response, and Chromium's console line about that response.
        assert any(e.startswith("404 ") for e in errors), errors
        assert all(e.startswith("404 ") or e.endswith("status of 404 (Not Found)") for e in errors), errors
        errors.clear()
        tablet.goto(f"{live_server.url}/admin/outcomes/worklist/")
        assert "/admin/login/" in tablet.url  # staff log in again for the next patient
    baseline = episode.follow_ups.get(timepoint="baseline")
    assert baseline.status == "completed"
    assert set(Response.objects.values_list("mode", "handed_over_by")) == {("tablet", alice.pk)}
    assert errors == []
