"""The patient's side: open the emailed link, answer page by page, review, send; and every way a link can fail."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.test import Client, override_settings
from django.urls import reverse

from outcomes import contact, dispatcher, outbox
from outcomes.models import AccessToken, Draft, FollowUpSettings, Response, Score
from tests.outcomes.conftest import all_items

pytestmark = pytest.mark.django_db


@pytest.fixture
def link(knee_episode) -> str:
    """The token of the invitation emailed for the open 3-month follow-up."""
    report = dispatcher.dispatch(now=datetime.now(tz=UTC))
    for message_id in report.due:
        outbox.message_send(message_id=message_id)
    return re.search(r"/p/(?!optout)([\w-]+)/", mail.outbox[-1].body).group(1)


def answer_koos(value: int) -> dict[str, str]:
    return {f"item_{code}": str(value) for code in all_items("koos", value)}


def page_data(client: Client, number: int, value: object) -> dict[str, str]:
    """Every question of page `number` answered with `value` (choice items: the stored value)."""
    form = client.get(f"/p/q/{number}/").context["form"]
    return {name: str(value) for name in form.fields}


def answer_every_page(client: Client, *, koos: int = 1, vas: str = "23.5") -> int:
    """Walk the pages as a patient does, to the summary; returns how many pages there were."""
    number = 1
    while True:
        page = client.get(f"/p/q/{number}/")
        if page.status_code == 303:  # past the last page: on to the summary (not back: a window closed)
            assert page["Location"] == reverse("outcomes:patient_summary"), page["Location"]
            return number - 1
        assert page.status_code == 200, page.status_code
        instrument = page.context["page"].instrument
        data = page_data(client, number, vas if instrument == "vas" else koos)
        assert client.post(f"/p/q/{number}/", data).status_code == 303
        number += 1


def open_link(client: Client, token: str):
    return client.get(f"/p/{token}/", follow=True)


def test_the_patient_answers_every_page_and_scores_are_stored(client, link, knee_episode):
    page = open_link(client, link)
    assert page.status_code == 200
    body = page.content.decode()
    assert "2 short questionnaires" in body and "Left knee, 3 months after your treatment" in body
    assert "about 9 minutes (6 pages)" in body  # 43 items at 12 s
    assert link not in body  # the token leaves the URL after the first request
    assert page.redirect_chain[-1][0] == reverse("outcomes:patient_questionnaire")
    first = client.get("/p/q/1/")
    text = first.content.decode()
    # KOOS one subscale a page (5), then the VAS: every page names the joint and the timepoint.
    assert "Page 1 of 6" in text and 'type="radio"' in text and "Left knee, 3 months after your treatment" in text
    assert "Part 1 of 5" in text
    assert first["Referrer-Policy"] == "no-referrer"
    assert client.post("/p/q/1/", page_data(client, 1, 1)).url == "/p/q/2/"
    assert answer_every_page(client) == 6
    summary = client.get("/p/q/summary/").content.decode()
    assert summary.count("Answered") == 2 and "Send my answers" in summary
    assert not Response.objects.exists()  # nothing is final before the patient sends
    done = client.post("/p/q/summary/", follow=True)
    assert "Thank you" in done.content.decode()
    m3 = knee_episode.follow_ups.get(timepoint="m3")
    assert m3.status == "completed"
    assert Score.objects.get(follow_up=m3, instrument="koos", key="pain").value == 75.0
    assert Score.objects.get(follow_up=m3, instrument="vas").value == 23.5
    assert set(Response.objects.values_list("entered_via", "mode")) == {("patient_link", "web")}
    assert not Draft.objects.exists()
    again = open_link(Client(), link)
    assert "already done" in again.content.decode()


def test_a_double_submit_stores_one_response(client, link):
    open_link(client, link)
    answer_every_page(client, koos=2, vas="40")
    client.post("/p/q/summary/")
    client.post("/p/q/summary/")
    assert Response.objects.count() == 2


def test_missing_and_out_of_range_answers_come_back_with_messages_and_kept_answers(client, link):
    open_link(client, link)
    data = page_data(client, 2, 3)  # page 2: KOOS pain
    del data["item_P1"]
    response = client.post("/p/q/2/", data)
    assert response.status_code == 200
    body = response.content.decode()
    assert "Some answers are missing" in body and "Please answer this question" in body
    assert re.search(r'name="item_P2" value="3"[^>]*checked', body)  # the answers given stay ticked
    form = response.context["form"]
    assert list(form.errors) == ["item_P1"] and form["item_P2"].value() == "3"
    response = client.post("/p/q/6/", {"item_vas_mm": "140"})
    assert response.status_code == 200  # page 6 (the VAS) is shown again, the value refused
    assert list(response.context["form"].errors) == ["item_vas_mm"]
    assert not Draft.objects.exists()


def test_answers_are_saved_per_page_so_the_patient_can_come_back(link):
    first = Client()
    open_link(first, link)
    first.post("/p/q/2/", page_data(first, 2, 4))
    later = Client()
    open_link(later, link)
    page = later.get("/p/q/2/")
    assert page.context["form"]["item_P3"].value() == 4
    summary = later.get("/p/q/summary/").content.decode()
    assert summary.count("Not answered yet") == 2  # KOOS has parts left, and the VAS


@pytest.mark.parametrize("kind", ["unknown", "tampered", "expired", "truncated"])
def test_every_bad_link_gets_the_same_neutral_page(client, link, kind):
    token = {
        "unknown": "A" * 43,
        "tampered": link[:-1] + ("A" if link[-1] != "A" else "B"),
        "expired": link,
        "truncated": link[:20],
    }[kind]
    when = datetime.now(tz=UTC) + (timedelta(days=400) if kind == "expired" else timedelta(0))
    with time_machine.travel(when, tick=False):
        response = client.get(f"/p/{token}/")
    neutral = Client().get("/p/" + "Z" * 43 + "/")
    assert response.status_code == neutral.status_code == 404
    assert response.content == neutral.content
    assert b"Site A" not in response.content and b"Amelia" not in response.content


def test_questionnaire_pages_without_a_link_show_the_neutral_page(client):
    for url in ("/p/q/", "/p/q/1/", "/p/q/summary/", "/p/q/thanks/"):
        assert client.get(url).status_code == 404


def test_a_link_opens_only_its_own_follow_ups(client, link, patient_b, today):
    from tests import factories

    theirs = factories.EpisodeFactory(patient=patient_b, index_date=today - timedelta(days=100))
    open_link(client, link)
    assert answer_every_page(client, vas="10") == 6
    client.post("/p/q/summary/")
    assert Response.objects.count() == 2
    assert not Response.objects.filter(follow_up__episode=theirs).exists()


@override_settings(PATIENT_RATE_LIMIT=20)
def test_many_token_guesses_from_one_address_are_refused(client):
    from django.core.cache import cache

    cache.clear()
    statuses = [client.get(f"/p/guess{i:04d}{'x' * 30}/").status_code for i in range(40)]
    assert statuses[:20] == [404] * 20
    assert set(statuses[20:]) == {429}
    cache.clear()


def test_the_birth_year_check_locks_after_repeated_failures(client, link, patient_a):
    FollowUpSettings.objects.create(site=patient_a.site, confirm_birth_year=True)
    open_link(client, link)
    assert client.get("/p/q/1/").status_code == 303
    for _ in range(4):
        assert "not the year" in client.post("/p/q/", {"birth_year": "1900"}).content.decode()
    assert client.post("/p/q/", {"birth_year": "1900"}).status_code == 403
    assert client.post("/p/q/", {"birth_year": "1958"}).status_code == 403  # locked even with the right year
    token = AccessToken.objects.get()
    token.locked_until = None
    token.save()
    assert client.post("/p/q/", {"birth_year": "1958"}).status_code == 303
    assert client.get("/p/q/1/").status_code == 200


def test_the_opt_out_link_records_the_choice_and_stops_emails(client, link, patient_a):
    page = client.get(f"/p/optout/{link}/")
    assert page.status_code == 200 and "Stop emails" in page.content.decode()
    assert "no more emails" in client.post(f"/p/optout/{link}/").content.decode()
    assert patient_a.email_opt_out.source == "link"
    assert not contact.contactable(patient_a)


def test_pages_carry_csrf_protection(link):
    strict = Client(enforce_csrf_checks=True)
    open_link(strict, link)
    assert strict.post("/p/q/1/", page_data(strict, 1, 1)).status_code == 403


def test_the_opt_out_link_works_a_while_after_the_questionnaire_link_expires_then_not(client, link, patient_a):
    from datetime import timedelta

    from outcomes.patient_views import OPT_OUT_GRACE

    token = AccessToken.objects.get()
    token.expires_at = datetime.now(tz=UTC) - OPT_OUT_GRACE + timedelta(hours=1)
    token.save()
    assert "Stop emails" in client.get(f"/p/optout/{link}/").content.decode()
    token.expires_at = datetime.now(tz=UTC) - OPT_OUT_GRACE - timedelta(hours=1)
    token.save()
    page = client.get(f"/p/optout/{link}/")
    assert "Stop emails" not in page.content.decode()
    client.post(f"/p/optout/{link}/")
    assert contact.contactable(patient_a)  # an old, dead link records nothing


def test_the_readme_gives_the_opt_out_link_s_real_lifetime():
    from pathlib import Path

    from outcomes.patient_views import OPT_OUT_GRACE

    readme = " ".join((Path(__file__).resolve().parents[2] / "README.md").read_text().split())
    assert f"until {OPT_OUT_GRACE.days} days after that email's questionnaire link expires" in readme


def test_a_seoul_link_works_through_the_windows_last_day_at_the_clinic_then_not(db):
    # The link lives to the end of its windows' last day on the clinic's calendar (Asia/Seoul, UTC+9), not to
    # midnight UTC nor to the start of that day: 23:30 in Seoul on the last day still opens the questionnaire.
    from zoneinfo import ZoneInfo

    from outcomes.models import FollowUp
    from tests import factories

    seoul = ZoneInfo("Asia/Seoul")
    sent = datetime(2026, 3, 10, 9, 0, tzinfo=seoul)
    with time_machine.travel(sent, tick=False):
        site = factories.SiteFactory(code="HRJ", name="Han River Joint Clinic", time_zone="Asia/Seoul", country="KR")
        patient = factories.PatientFactory(site=site, identity__given_name="Jiwoo", identity__family_name="Han")
        episode = factories.EpisodeFactory(
            patient=patient, joint="knee", side="left", index_date=sent.date() - timedelta(days=100)
        )
        report = dispatcher.dispatch(now=datetime.now(tz=UTC))
        for message_id in report.due:
            outbox.message_send(message_id=message_id)
    token = re.search(r"/p/(?!optout)([\w-]+)/", mail.outbox[-1].body).group(1)
    asked = AccessToken.objects.get(patient=patient).follow_ups.all()
    assert asked, "the invitation must name the open follow-ups"
    last_day = max(fu.window_closes for fu in asked)
    assert FollowUp.objects.filter(episode=episode, timepoint="m3").get().window_closes == last_day
    late_evening = datetime(last_day.year, last_day.month, last_day.day, 23, 30, tzinfo=seoul)
    with time_machine.travel(late_evening, tick=False):
        patient_client = Client()
        page = open_link(patient_client, token)
        assert page.status_code == 200
        assert patient_client.get("/p/q/1/").status_code == 200  # the questionnaire itself, not only a landing
    with time_machine.travel(late_evening + timedelta(hours=1), tick=False):  # 00:30 the next day in Seoul
        assert Client().get(f"/p/{token}/").status_code == 404
