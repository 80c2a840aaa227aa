"""A coordinator's morning in a real browser at 1366 x 768 (Debian's Chromium through Playwright): the worklist
fits without sideways scrolling; five follow-ups are worked from it: a call with no answer, a patient who
answers KOOS by phone with two items left blank and their reasons, the scores read in words, a refusal that
ends its follow-up, a link sent again, a moved-away patient. The work screen also fits a phone (390 px)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from outcomes.models import CallAttempt, FollowUp, FollowUpStatus, Response
from tests import factories
from tests.browser.test_journey_browser import DESKTOP, PHONE, browser, go, log_in, new_page, no_sideways_scroll, shot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
__all__ = ["browser"]  # the fixture, shared with the journey test

NAMES = [("Hana", "Quist"), ("Ren", "Park"), ("Uma", "Lee"), ("Emil", "Moss"), ("Ana", "Watanabe")]


def _row(page, family: str):
    return page.locator("#result_list tbody tr", has_text=family)


def test_a_coordinators_morning(browser, live_server, site_a, alice, tmp_path):
    errors: list[str] = []
    today = date.today()
    fus = {}
    for n, (given, family) in enumerate(NAMES):
        patient = factories.PatientFactory(site=site_a, identity__given_name=given, identity__family_name=family)
        episode = factories.EpisodeFactory(
            patient=patient, joint="knee", side="left", index_date=today - timedelta(days=95 + n)
        )
        fus[family] = episode.follow_ups.get(timepoint="m3")
    page = new_page(browser, errors, **DESKTOP)
    log_in(page, live_server, "alice")
    page.goto(f"{live_server.url}/admin/outcomes/worklist/")
    assert "Follow-up worklist" in page.content()
    for _given, family in NAMES:
        assert _row(page, family).count() == 1
    assert no_sideways_scroll(page)
    shot(page, tmp_path, "worklist")

    # 1. Quist: no answer, with a note; the worklist shows the last call
    go(page, _row(page, "Quist").get_by_role("link", name="Call…"))
    assert "Hana Quist" in page.content() and fus["Quist"].episode.patient.identity.phone in page.content()
    assert page.locator("input[name=_save]").count() == 0
    assert no_sideways_scroll(page)
    shot(page, tmp_path, "work-screen")
    page.fill("#call-note", "try after 6 pm")
    go(page, page.get_by_role("button", name="No answer"))
    assert "Call recorded: no answer." in page.content() and "try after 6 pm" in page.content()
    page.goto(f"{live_server.url}/admin/outcomes/worklist/")
    assert "no answer" in _row(page, "Quist").inner_text()

    # 2. Park: answers KOOS by phone now, two items blank with their reasons; the scores read in words (P4 and Q4:
    # neither is one of the seven KOOS JR items, which all must be answered for the KOOS JR derived from a KOOS)
    go(page, _row(page, "Park").get_by_role("link", name="Call…"))
    go(page, page.get_by_role("button", name="Answering by phone now"))
    assert "/enter/koos/?mode=phone" in page.url
    assert page.locator("select[name=mode]").input_value() == "phone"
    for fieldset in page.locator(".q-item fieldset").all():
        legend = fieldset.locator("legend").inner_text()
        if legend.startswith(("P4.", "Q4.")):
            continue
        fieldset.locator("input[type=radio]").nth(1).check()
    go(page, page.get_by_role("button", name="Save and score"))
    assert "Left blank without a reason: P4, Q4" in page.content()  # refused, nothing saved
    assert not Response.objects.filter(follow_up=fus["Park"]).exists()
    page.select_option("select[name=blank_P4]", "declined")
    page.select_option("select[name=blank_Q4]", "not_applicable")
    shot(page, tmp_path, "entry-with-blanks")
    go(page, page.get_by_role("button", name="Save and score"))
    content = page.content()
    assert "Left blank (2): P4 declined to answer, Q4 not applicable." in content, content[:3000]
    assert "KOOS pain" in content and "higher is better" in content and "of 100" in content
    assert "koos4_kanon" not in page.locator(".scores-words").first.inner_text()
    assert Response.objects.get(follow_up=fus["Park"], instrument="koos").missing == {
        "P4": "declined",
        "Q4": "not_applicable",
    }
    assert no_sideways_scroll(page)
    shot(page, tmp_path, "scores-in-words")

    # 3. Lee: refuses; the follow-up ends with that reason
    page.goto(f"{live_server.url}/admin/outcomes/worklist/")
    go(page, _row(page, "Lee").get_by_role("link", name="Call…"))
    page.fill("#call-note", "does not want more questionnaires")
    go(page, page.get_by_role("button", name="Refused"))
    assert "This follow-up is ended: refused" in page.content()
    assert FollowUp.objects.get(pk=fus["Lee"].pk).status == FollowUpStatus.REFUSED
    assert page.get_by_role("button", name="Resume the follow-up").count() == 1

    # 4. Moss: will answer by link; 5. Watanabe: moved away
    page.goto(f"{live_server.url}/admin/outcomes/worklist/")
    go(page, _row(page, "Moss").get_by_role("link", name="Call…"))
    go(page, page.get_by_role("button", name="Will answer by link"))
    assert "Call recorded: will answer by link." in page.content()
    page.goto(f"{live_server.url}/admin/outcomes/worklist/")
    go(page, _row(page, "Watanabe").get_by_role("link", name="Call…"))
    go(page, page.get_by_role("button", name="Moved away"))
    assert FollowUp.objects.get(pk=fus["Watanabe"].pk).status == FollowUpStatus.LOST

    page.goto(f"{live_server.url}/admin/outcomes/worklist/")
    assert _row(page, "Lee").count() == 0 and _row(page, "Watanabe").count() == 0  # ended: off today's list
    assert CallAttempt.objects.count() == 5

    phone = new_page(browser, errors, **PHONE)
    log_in(phone, live_server, "alice")
    phone.goto(f"{live_server.url}/admin/outcomes/followup/{fus['Quist'].pk}/change/")
    assert "try after 6 pm" in phone.content()
    assert no_sideways_scroll(phone)
    shot(phone, tmp_path, "work-screen-phone")
    assert errors == []
