"""The patient's side: open the emailed link, answer page by page, review, send; and every way a link can fail."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.test import Client, override_settings
from django.urls import reverse

from outcomes import contact
from outcomes.models import AccessToken, Draft, FollowUpSettings, Response, Score
from tests.outcomes.conftest import all_items

pytestmark = pytest.mark.django_db


@pytest.fixture
def link(knee_episode) -> str:
    """The token of the invitation emailed for the open 3-month follow-up."""
    report = contact.dispatch(now=datetime.now(tz=UTC))
    for message_id in report.due:
        contact.message_send(message_id=message_id)
    return re.search(r"/p/(?!optout)([\w-]+)/", mail.outbox[-1].body).group(1)


def answer_koos(value: int) -> dict[str, str]:
    return {f"item_{code}": str(value) for code in all_items("koos", value)}


def open_link(client: Client, token: str):
    return client.get(f"/p/{token}/", follow=True)


def test_the_patient_answers_every_page_and_scores_are_stored(client, link, knee_episode):
    page = open_link(client, link)
    assert page.status_code == 200
    body = page.content.decode()
    assert "2 short questionnaires" in body and "your left knee" in body
    assert link not in body  # the token leaves the URL after the first request
    assert page.redirect_chain[-1][0] == reverse("outcomes:patient_questionnaire")
    first = client.get("/p/q/1/")
    assert "Page 1 of 2" in first.content.decode() and 'type="radio"' in first.content.decode()
    assert first["Referrer-Policy"] == "no-referrer"
    assert client.post("/p/q/1/", answer_koos(1)).url == "/p/q/2/"
    assert client.post("/p/q/2/", {"item_vas_mm": "23.5"}).url == "/p/q/summary/"
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
    client.post("/p/q/1/", answer_koos(2))
    client.post("/p/q/2/", {"item_vas_mm": "40"})
    client.post("/p/q/summary/")
    client.post("/p/q/summary/")
    assert Response.objects.count() == 2


def test_missing_and_out_of_range_answers_come_back_with_messages_and_kept_answers(client, link):
    open_link(client, link)
    data = answer_koos(3)
    del data["item_P1"]
    response = client.post("/p/q/1/", data)
    assert response.status_code == 200
    body = response.content.decode()
    assert "Some answers are missing" in body and "Please answer this question" in body
    assert 'value="3" checked' in body or 'checked value="3"' in body or "checked" in body
    form = response.context["form"]
    assert list(form.errors) == ["item_P1"] and form["item_P2"].value() == "3"
    response = client.post("/p/q/2/", {"item_vas_mm": "140"})
    assert response.status_code in (200, 303)  # page 2 is reachable; the value is refused
    if response.status_code == 200:
        assert "item_vas_mm" in response.context["form"].errors
    assert not Draft.objects.filter(instrument="vas").exists()


def test_answers_are_saved_per_page_so_the_patient_can_come_back(link):
    first = Client()
    open_link(first, link)
    first.post("/p/q/1/", answer_koos(4))
    later = Client()
    open_link(later, link)
    page = later.get("/p/q/1/")
    assert page.context["form"]["item_P3"].value() in (4, "4")
    assert later.get("/p/q/summary/").content.decode().count("Not answered yet") == 1


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
    client.post("/p/q/1/", answer_koos(1))
    client.post("/p/q/2/", {"item_vas_mm": "10"})
    client.post("/p/q/summary/")
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
    assert strict.post("/p/q/1/", answer_koos(1)).status_code == 403
