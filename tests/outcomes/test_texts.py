"""Text messages: a patient's channel and mobile number, invitations and reminders by text in their language,
quiet hours at the site, a STOP reply (signed webhook or the command), and the same exactly-once rules as email."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from io import StringIO

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client, override_settings
from twilio.request_validator import RequestValidator

from outcomes import contact, dispatcher, outbox, texting
from outcomes.models import AccessToken, EmailOptOut, Message, MessageStatus
from outcomes.texting.backends import twilio as twilio_backend
from registry.models import Patient, PatientIdentity
from tests import factories

pytestmark = pytest.mark.django_db

TODAY = datetime.now(tz=UTC).date()
SEOUL_NOON = datetime.combine(TODAY, datetime.min.time(), tzinfo=UTC) + timedelta(hours=3)  # 12:00 in Seoul
SEOUL_22H = datetime.combine(TODAY, datetime.min.time(), tzinfo=UTC) + timedelta(hours=13)  # 22:00 in Seoul
AUTH_TOKEN = "twilio-test-auth-token"
WEBHOOK = "/p/texts/inbound/twilio/"


@pytest.fixture
def site_kr(db):
    return factories.SiteFactory(code="HRJ", name="Han River Joint Clinic", time_zone="Asia/Seoul", country="KR")


def kr_patient(site, *, channel="both", mobile="+821000001234", language="ko", **identity) -> Patient:
    patient = factories.PatientFactory(
        site=site,
        contact_channel=channel,
        identity__mobile=mobile,
        identity__preferred_language=language,
        **{f"identity__{k}": v for k, v in identity.items()},
    )
    factories.EpisodeFactory(patient=patient, index_date=TODAY - timedelta(days=100))  # 3 months open
    return patient


def run_pass(now):
    report = dispatcher.dispatch(now=now)
    return report, outbox.messages_send(message_ids=report.due, now=now)


def text_link(text) -> str:
    return re.search(r"http://\S+/p/([\w-]+)/", text.body).group(1)


# Sending ------------------------------------------------------------------------------------------------------


def test_a_korean_patient_gets_a_korean_email_and_a_korean_text_whose_link_opens_a_korean_page(site_kr):
    patient = kr_patient(site_kr)
    report, sent = run_pass(SEOUL_NOON)
    assert report.invitations == 2 and sent == {"sent": 2}
    assert len(mail.outbox) == 1 and mail.outbox[0].extra_headers["Content-Language"] == "ko"
    [text] = texting.outbox
    assert text.to == "+821000001234"
    assert text.body.startswith("Han River Joint Clinic: 추적 관찰 설문이 준비되었습니다")
    assert "STOP" in text.body and "답장해 주십시오" in text.body
    # No clinical data in a text: no body part, no treatment, no timepoint.
    for word in ("무릎", "knee", "Knee", "3개월", "3 months", "줄기세포", "PRP"):
        assert word not in text.body
    # Short: two links (the questionnaire, and leaving the registry) and two lines of words.
    assert len(text.body) < 320
    assert "/p/withdraw/" in text.body
    message = Message.objects.get(channel="sms")
    assert (message.status, message.to_phone, message.to_email) == ("sent", "+821000001234", "")
    assert message.provider_ref.startswith("locmem-")
    token = AccessToken.objects.get(channel="sms")
    assert token.follow_ups.count() == 1
    page = Client().get(f"/p/{text_link(text)}/", follow=True)
    assert page.status_code == 200 and "설문" in page.content.decode() and 'lang="ko"' in page.content.decode()
    # Each channel has its own link; both open the same questionnaires.
    assert AccessToken.objects.filter(patient=patient).count() == 2


@pytest.mark.parametrize(
    "language,phrase", [("ja", "経過観察"), ("zh-hans", "随访问卷"), ("zh-hant", "隨訪問卷"), ("en", "ready")]
)
def test_a_text_is_in_the_patient_s_language(site_kr, language, phrase):
    kr_patient(site_kr, channel="sms", language=language)
    run_pass(SEOUL_NOON)
    [text] = texting.outbox
    assert phrase in text.body and "STOP" in text.body
    assert mail.outbox == []  # texts only


def test_a_patient_contacted_by_email_only_gets_no_text_and_one_by_text_only_no_email(site_kr):
    kr_patient(site_kr, channel="email")
    run_pass(SEOUL_NOON)
    assert len(mail.outbox) == 1 and texting.outbox == []


def test_reminders_go_by_text_too_and_each_once(site_kr):
    kr_patient(site_kr, channel="sms")
    run_pass(SEOUL_NOON)
    run_pass(SEOUL_NOON + timedelta(days=7))
    run_pass(SEOUL_NOON + timedelta(days=7, hours=1))
    assert [("다시 안내드립니다" in t.body) for t in texting.outbox] == [False, True]
    assert Message.objects.filter(channel="sms", kind="reminder").count() == 1


def test_no_text_goes_out_in_the_site_s_quiet_hours_and_it_waits_for_eight_in_the_morning(site_kr):
    kr_patient(site_kr)
    report, sent = run_pass(SEOUL_22H)
    assert sent == {"sent": 1} and len(mail.outbox) == 1 and texting.outbox == []  # the email goes at once
    waiting = Message.objects.get(channel="sms")
    eight_in_seoul = datetime.combine(TODAY + timedelta(days=1), datetime.min.time(), tzinfo=UTC) - timedelta(hours=1)
    assert waiting.status == "pending" and waiting.next_attempt_at == eight_in_seoul
    assert outbox.message_send(message_id=waiting.pk, now=SEOUL_22H + timedelta(hours=2)) == "skipped"
    # Forced due while still quiet (a retry scheduled for 23:30, say): put back to 08:00, no attempt counted.
    Message.objects.filter(pk=waiting.pk).update(next_attempt_at=SEOUL_22H)
    assert outbox.message_send(message_id=waiting.pk, now=SEOUL_22H + timedelta(hours=1, minutes=30)) == "deferred"
    waiting.refresh_from_db()
    assert (waiting.status, waiting.attempts, waiting.next_attempt_at) == ("pending", 0, eight_in_seoul)
    assert not AccessToken.objects.filter(channel="sms").exists()
    report, sent = run_pass(eight_in_seoul)
    assert sent == {"sent": 1} and len(texting.outbox) == 1


def test_quiet_hours_are_the_site_s_own():
    site = factories.SiteFactory.build(time_zone="America/Los_Angeles")
    la_2030 = datetime(2026, 12, 3, 4, 30, tzinfo=UTC)  # 20:30 on the 2nd in Los Angeles
    assert contact.texts_allowed_from(site, la_2030) == la_2030
    assert contact.texts_allowed_from(site, la_2030 + timedelta(minutes=30)) == datetime(2026, 12, 3, 16, tzinfo=UTC)
    assert contact.texts_allowed_from(site, datetime(2026, 12, 3, 15, 59, tzinfo=UTC)) == datetime(
        2026, 12, 3, 16, tzinfo=UTC
    )


# The same exactly-once rules as email -------------------------------------------------------------------------


class ScriptedProvider:
    """A text-message provider for batch tests: per number it refuses, says STOP was replied, is unavailable,
    or crashes the worker (each once)."""

    def __init__(self) -> None:
        self.on: dict[str, str] = {}
        self.sent: list[texting.TextMessage] = []
        self.down = False

    def connection(self):
        provider = self

        class Backend:
            def open(self) -> None:
                if provider.down:
                    raise texting.TextUnavailable("provider unreachable")

            def close(self) -> None:
                pass

            def send(self, message):
                action = provider.on.pop(message.to, None)
                if action == "refuse":
                    raise texting.TextRefused("Twilio 400 error 21211: invalid 'To' number")
                if action == "unsubscribed":
                    raise texting.TextRefused("Twilio 400 error 21610: unsubscribed", unsubscribed=True)
                if action == "unavailable":
                    raise texting.TextUnavailable("Twilio 503 error 20500: service unavailable")
                if action == "crash":
                    raise RuntimeError("worker killed")
                provider.sent.append(message)
                return f"SM{len(provider.sent):032d}"

        return Backend()


@pytest.fixture
def provider(monkeypatch) -> ScriptedProvider:
    p = ScriptedProvider()
    monkeypatch.setattr(texting, "get_connection", p.connection)
    return p


def due_texts(site, n: int) -> list[Message]:
    for i in range(n):
        kr_patient(site, channel="sms", mobile=f"+82100000{i:04d}")
    dispatcher.dispatch(now=SEOUL_NOON)
    return list(Message.objects.filter(channel="sms").order_by("pk"))


def statuses(messages) -> list[str]:
    return [Message.objects.get(pk=m.pk).status for m in messages]


def test_a_text_is_sent_once_even_if_its_task_runs_twice(site_kr, provider):
    [message] = due_texts(site_kr, 1)
    assert outbox.message_send(message_id=message.pk, now=SEOUL_NOON) == "sent"
    assert outbox.message_send(message_id=message.pk, now=SEOUL_NOON) == "skipped"
    assert len(provider.sent) == 1 and Message.objects.get(pk=message.pk).provider_ref == f"SM{1:032d}"


def test_a_refused_number_fails_permanently_and_staff_see_it_on_the_follow_up(site_kr, provider):
    messages = due_texts(site_kr, 3)
    provider.on[messages[1].to_phone] = "refuse"
    assert outbox.messages_send(message_ids=[m.pk for m in messages], now=SEOUL_NOON) == {"sent": 2, "failed": 1}
    assert statuses(messages) == ["sent", "failed", "sent"]
    failed = Message.objects.get(pk=messages[1].pk)
    assert "refused by the text-message provider: Twilio 400 error 21211" in failed.last_error
    staff = factories.staff_user("hana", site_kr)
    client = Client()
    client.force_login(staff)
    fu = failed.items.get().follow_up
    page = client.get(f"/admin/outcomes/followup/{fu.pk}/change/").content.decode()
    assert "by text message: Failed permanently" in page and "21211" in page


def test_a_number_the_provider_says_replied_stop_is_opted_out_of_everything(site_kr, provider):
    [message] = due_texts(site_kr, 1)
    provider.on[message.to_phone] = "unsubscribed"
    assert outbox.message_send(message_id=message.pk, now=SEOUL_NOON) == "failed"
    assert EmailOptOut.objects.get(patient=message.patient).source == "stop"


def test_an_unavailable_provider_backs_off_each_text_and_the_retry_sends_it_once(site_kr, provider):
    messages = due_texts(site_kr, 2)
    provider.down = True
    assert outbox.messages_send(message_ids=[m.pk for m in messages], now=SEOUL_NOON) == {"retry": 2}
    rows = Message.objects.filter(pk__in=[m.pk for m in messages])
    assert {(m.status, m.attempts, m.next_attempt_at) for m in rows} == {
        ("pending", 1, SEOUL_NOON + timedelta(minutes=1))
    }
    assert AccessToken.objects.count() == 0  # no link was sent: none kept
    provider.down = False
    later = SEOUL_NOON + timedelta(minutes=2)
    assert outbox.messages_send(message_ids=[m.pk for m in messages], now=later) == {"sent": 2}
    assert sorted(t.to for t in provider.sent) == sorted(m.to_phone for m in messages)


def test_a_provider_outage_mid_batch_reconnects_once_then_puts_the_rest_back(site_kr, provider):
    messages = due_texts(site_kr, 5)
    provider.on[messages[1].to_phone] = "unavailable"
    provider.on[messages[2].to_phone] = "unavailable"
    assert outbox.messages_send(message_ids=[m.pk for m in messages], now=SEOUL_NOON) == {
        "sent": 1,
        "retry": 2,
        "requeued": 2,
    }
    assert statuses(messages) == ["sent", "pending", "pending", "pending", "pending"]
    outbox.messages_send(message_ids=[m.pk for m in messages], now=SEOUL_NOON + timedelta(minutes=2))
    assert sorted(t.to for t in provider.sent) == sorted(m.to_phone for m in messages)  # each exactly once


def test_a_worker_killed_mid_batch_leaves_the_text_in_flight_to_the_lease_and_puts_back_the_rest(site_kr, provider):
    messages = due_texts(site_kr, 4)
    provider.on[messages[1].to_phone] = "crash"
    with pytest.raises(RuntimeError):
        outbox.messages_send(message_ids=[m.pk for m in messages], now=SEOUL_NOON)
    assert statuses(messages) == ["sent", "sending", "pending", "pending"]
    assert outbox.messages_send(message_ids=[m.pk for m in messages], now=SEOUL_NOON) == {"sent": 2, "skipped": 2}
    assert dispatcher.dispatch(now=SEOUL_NOON + outbox.SENDING_LEASE + timedelta(minutes=1)).requeued == 1
    assert outbox.message_send(message_id=messages[1].pk, now=SEOUL_NOON + outbox.SENDING_LEASE) == "sent"
    assert sorted(t.to for t in provider.sent) == sorted(m.to_phone for m in messages)


def test_a_second_dispatcher_pass_creates_no_second_text(site_kr):
    kr_patient(site_kr, channel="sms")
    first = dispatcher.dispatch(now=SEOUL_NOON)
    second = dispatcher.dispatch(now=SEOUL_NOON)
    assert (first.invitations, second.invitations) == (1, 0)
    assert Message.objects.filter(channel="sms").count() == 1


# STOP ---------------------------------------------------------------------------------------------------------


def signed_post(client, data, *, token=AUTH_TOKEN, base="http://testserver"):
    signature = RequestValidator(token).compute_signature(base + WEBHOOK, data)
    return client.post(WEBHOOK, data, HTTP_X_TWILIO_SIGNATURE=signature)


@override_settings(TWILIO_AUTH_TOKEN=AUTH_TOKEN, REGISTRY_BASE_URL="http://testserver")
def test_a_stop_reply_stops_texts_and_emails_and_cancels_what_waits(site_kr, client):
    patient = kr_patient(site_kr)
    dispatcher.dispatch(now=SEOUL_22H)  # the text waits for the morning; the email is queued
    assert Message.objects.filter(status="pending").count() == 2
    response = signed_post(client, {"From": "+821000001234", "To": "+15005550006", "Body": "Stop"})
    assert response.status_code == 200 and response["Content-Type"] == "text/xml"
    assert EmailOptOut.objects.get(patient=patient).source == "stop"
    assert set(Message.objects.values_list("status", flat=True)) == {"cancelled"}
    report, sent = run_pass(SEOUL_NOON + timedelta(days=8))  # the reminder day: nothing by either channel
    assert report.reminders == 0 and "sent" not in sent  # (the call-list digest has no coordinator to go to)
    assert mail.outbox == [] and texting.outbox == []


@override_settings(TWILIO_AUTH_TOKEN=AUTH_TOKEN, REGISTRY_BASE_URL="http://testserver")
@pytest.mark.parametrize("body", ["중지", "STOP please", "配信停止", "退订"])
def test_stop_in_the_shipped_languages(site_kr, client, body):
    patient = kr_patient(site_kr)
    assert signed_post(client, {"From": "+821000001234", "Body": body}).status_code == 200
    assert EmailOptOut.objects.filter(patient=patient).exists()


@override_settings(TWILIO_AUTH_TOKEN=AUTH_TOKEN, REGISTRY_BASE_URL="http://testserver")
def test_a_reply_that_is_not_stop_changes_nothing(site_kr, client):
    patient = kr_patient(site_kr)
    assert signed_post(client, {"From": "+821000001234", "Body": "Thank you, see you soon"}).status_code == 200
    assert not EmailOptOut.objects.filter(patient=patient).exists()


@override_settings(TWILIO_AUTH_TOKEN=AUTH_TOKEN, REGISTRY_BASE_URL="http://testserver")
@pytest.mark.parametrize(
    "headers",
    [{}, {"HTTP_X_TWILIO_SIGNATURE": "bm90IGEgc2lnbmF0dXJl"}],
    ids=["unsigned", "bad signature"],
)
def test_an_unsigned_or_wrongly_signed_webhook_is_refused_and_changes_nothing(site_kr, client, headers):
    patient = kr_patient(site_kr)
    response = client.post(WEBHOOK, {"From": "+821000001234", "Body": "STOP"}, **headers)
    assert response.status_code == 403 and b"signature does not match" in response.content
    assert not EmailOptOut.objects.filter(patient=patient).exists()


@override_settings(TWILIO_AUTH_TOKEN=AUTH_TOKEN, REGISTRY_BASE_URL="http://testserver")
def test_a_webhook_signed_with_another_account_s_token_is_refused(site_kr, client):
    patient = kr_patient(site_kr)
    response = signed_post(client, {"From": "+821000001234", "Body": "STOP"}, token="someone-else")
    assert response.status_code == 403 and not EmailOptOut.objects.filter(patient=patient).exists()


@override_settings(TWILIO_AUTH_TOKEN=AUTH_TOKEN, REGISTRY_BASE_URL="https://registry.example.org")
def test_the_signature_is_checked_against_the_public_address_behind_a_proxy(site_kr, client):
    patient = kr_patient(site_kr)
    data = {"From": "+821000001234", "Body": "STOP"}
    assert signed_post(client, data).status_code == 403  # signed for the internal host: not what Twilio signs
    assert signed_post(client, data, base="https://registry.example.org").status_code == 200
    assert EmailOptOut.objects.filter(patient=patient).exists()


@override_settings(TWILIO_AUTH_TOKEN="")
def test_the_webhook_is_not_there_without_a_twilio_account(client):
    assert client.post(WEBHOOK, {"From": "+821000001234", "Body": "STOP"}).status_code == 404


def test_the_text_reply_command_feeds_a_stop_and_refuses_a_number_without_country_code(site_kr):
    patient = kr_patient(site_kr)
    out = StringIO()
    call_command("text_reply", "+82 10-0000-1234", "STOP", stdout=out)
    assert "1 patient(s) opted out" in out.getvalue()
    assert EmailOptOut.objects.get(patient=patient).source == "stop"
    with pytest.raises(CommandError, match="with \\+ and a country code"):
        call_command("text_reply", "010-0000-1234", "STOP")


# The Twilio backend, on a fake HTTP transport -----------------------------------------------------------------


class FakeHttp:
    def __init__(self, status: int, body: str) -> None:
        self.status, self.body, self.requests = status, body, []

    def request(
        self, method, url, params=None, data=None, headers=None, auth=None, timeout=None, allow_redirects=False
    ):
        from twilio.http.response import Response

        self.requests.append((method, url, data))
        return Response(self.status, self.body)


def twilio(status: int, body: str):
    http = FakeHttp(status, body)
    backend = twilio_backend.TextBackend(
        account_sid="AC" + "0" * 32, auth_token="t", sender="+15005550006", http_client=http
    )
    return backend, http


def test_the_twilio_backend_posts_the_message_and_returns_its_sid():
    backend, http = twilio(201, '{"sid": "SM' + "1" * 32 + '", "status": "queued"}')
    assert backend.send(texting.TextMessage(to="+821000001234", body="hello")) == "SM" + "1" * 32
    method, url, data = http.requests[0]
    assert method == "POST" and url.endswith("/Messages.json")
    assert (data["To"], data["From"], data["Body"]) == ("+821000001234", "+15005550006", "hello")


@pytest.mark.parametrize(
    "status,code,error,unsubscribed",
    [
        (400, 21211, texting.TextRefused, False),
        (400, 21610, texting.TextRefused, True),
        (429, 20429, texting.TextUnavailable, False),
        (500, 20500, texting.TextUnavailable, False),
        (401, 20003, texting.TextUnavailable, False),
    ],
)
def test_twilio_errors_are_permanent_or_worth_a_retry(status, code, error, unsubscribed):
    backend, _ = twilio(status, f'{{"code": {code}, "message": "error {code}", "status": {status}}}')
    with pytest.raises(error) as raised:
        backend.send(texting.TextMessage(to="+821000001234", body="hello"))
    assert str(code) in str(raised.value)
    if error is texting.TextRefused:
        assert raised.value.unsubscribed is unsubscribed


@override_settings(TWILIO_ACCOUNT_SID="", TWILIO_AUTH_TOKEN="")
def test_the_twilio_backend_without_credentials_says_what_is_missing():
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured, match="TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN"):
        twilio_backend.TextBackend()


def test_the_file_backend_writes_each_text_whole_to_the_folder(tmp_path):
    from outcomes.texting.backends.filebased import TextBackend

    backend = TextBackend(file_path=tmp_path / "texts", sender="HRJ")
    backend.send(texting.TextMessage(to="+821000001234", body="안녕하세요 https://x/p/abc/"))
    [written] = (tmp_path / "texts").iterdir()
    assert written.suffix == ".txt"
    assert written.read_text(encoding="utf-8").splitlines()[:2] == ["To: +821000001234", "From: HRJ"]
    assert "안녕하세요" in written.read_text(encoding="utf-8")


# Staff: the channel and the number --------------------------------------------------------------------------


def identity(patient_site, **kw) -> PatientIdentity:
    patient = Patient(site=patient_site, sex="female", consent_version="1", consent_date=date(2026, 1, 5), **kw)
    return PatientIdentity(patient=patient, given_name="A", family_name="B", date_of_birth=date(1960, 1, 1))


def test_a_mobile_number_is_read_in_the_patient_s_country_and_stored_in_e164(site_kr):
    ident = identity(site_kr)
    ident.mobile = "010-0000-1234"
    ident.full_clean(exclude=["patient"])
    assert ident.mobile == "+821000001234"
    ident.mobile, ident.country = "090-1234-5678", "JP"  # a patient from Japan at a Korean clinic
    ident.full_clean(exclude=["patient"])
    assert ident.mobile == "+819012345678"
    ident.mobile, ident.country = "+81 90 1234 5678", ""
    ident.full_clean(exclude=["patient"])
    assert ident.mobile == "+819012345678"


@pytest.mark.parametrize(
    "mobile,country,message",
    [
        ("010-123", "", "is not a valid phone number in KR"),
        ("02-312-3456", "", "landline"),
        ("hello", "", "is not a phone number"),
        ("090-1234-5678", "", "is not a valid phone number in KR"),  # a Japanese number without +81
        ("+82 10", "", "is not a valid phone number."),
    ],
)
def test_a_bad_mobile_number_is_refused_with_the_reason(site_kr, mobile, country, message):
    from django.core.exceptions import ValidationError

    ident = identity(site_kr)
    ident.mobile, ident.country = mobile, country
    with pytest.raises(ValidationError) as raised:
        ident.full_clean(exclude=["patient"])
    assert message in " ".join(raised.value.message_dict["mobile"])


def test_an_unknown_country_code_is_refused(site_kr):
    from django.core.exceptions import ValidationError

    ident = identity(site_kr)
    ident.country = "XX"
    with pytest.raises(ValidationError) as raised:
        ident.full_clean(exclude=["patient"])
    assert "Unknown country code" in str(raised.value.message_dict["country"])


def patient_form(site, **overrides) -> dict[str, str]:
    data = {
        "site": str(site.pk),
        "sex": "female",
        "consent_version": "2.1",
        "consent_date": "2026-01-05",
        "consent_follow_up": "True",
        "consent_research": "True",
        "consent_email": "True",
        "consent_taken": "paper",
        "contact_channel": "sms",
        "change_reason": "new patient",
        "identity-TOTAL_FORMS": "1",
        "identity-INITIAL_FORMS": "0",
        "identity-MIN_NUM_FORMS": "1",
        "identity-MAX_NUM_FORMS": "1",
        "identity-0-given_name": "Min-ji",
        "identity-0-family_name": "Kim",
        "identity-0-date_of_birth": "1961-04-02",
        "identity-0-preferred_language": "ko",
        "identity-0-mobile": "",
        "identity-0-country": "",
        "episodes-TOTAL_FORMS": "0",
        "episodes-INITIAL_FORMS": "0",
        "episodes-MIN_NUM_FORMS": "0",
        "episodes-MAX_NUM_FORMS": "1000",
    }
    data.update(overrides)
    return data


def test_staff_choosing_texts_without_a_number_get_a_clear_error_and_nothing_is_saved(site_kr):
    staff = factories.staff_user("hana", site_kr)
    client = Client()
    client.force_login(staff)
    data = patient_form(site_kr)
    response = client.post("/admin/registry/patient/add/", data)
    assert response.status_code == 200
    assert "give a mobile number, or choose email" in response.content.decode()
    assert not Patient.objects.exists() and not PatientIdentity.objects.exists()
    data["identity-0-mobile"] = "010 0000 9876"
    response = client.post("/admin/registry/patient/add/", data)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert PatientIdentity.objects.get().mobile == "+821000009876"
    assert Patient.objects.get().contact_channel == "sms"


def test_the_outbox_shows_staff_each_message_s_channel(site_kr):
    kr_patient(site_kr)
    run_pass(SEOUL_NOON)
    staff = factories.staff_user("hana", site_kr)
    client = Client()
    client.force_login(staff)
    page = client.get("/admin/outcomes/message/?channel=sms").content.decode()
    assert "Text message" in page and "1 message" in page


def test_an_opt_out_stops_both_channels(site_kr):
    patient = kr_patient(site_kr)
    assert contact.channels_for(patient) == ["email", "sms"]
    contact.patient_opt_out(patient=patient, source="staff")
    assert contact.channels_for(patient) == []
    report, sent = run_pass(SEOUL_NOON)
    assert "sent" not in sent and report.call_listed == 1
    assert MessageStatus.SENT not in Message.objects.values_list("status", flat=True)


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL; CI runs this there")
def test_two_dispatchers_and_two_senders_at_once_send_each_text_exactly_once(site_kr):
    import threading

    for i in range(20):
        kr_patient(site_kr, channel="both", mobile=f"+82100000{i:04d}")
    barrier = threading.Barrier(2)
    reports, errors = [], []

    def dispatch_and_send():
        try:
            barrier.wait()
            reports.append(dispatcher.dispatch(now=SEOUL_NOON))
            barrier.wait()
            for message_id in Message.objects.values_list("pk", flat=True):
                outbox.message_send(message_id=message_id, now=SEOUL_NOON)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=dispatch_and_send) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert sum(r.invitations for r in reports) == 40  # an email and a text for each of 20 patients
    numbers = sorted(t.to for t in texting.outbox)
    assert len(numbers) == 20 and len(set(numbers)) == 20
    assert len(mail.outbox) == 20 and Message.objects.filter(status="sent").count() == 40
