"""Anonymisation leaves no identifying value of the patient anywhere in the database (issue 21, item 2).

A patient is seeded with marker strings found nowhere else: in the identity and its history, in free text staff
typed (withdrawal reason, change reasons, a call note, an adverse event's description, an administration's
product name), in the admin log (as Django writes it on an edit), in an email and a text message row, in a draft
and in sessions (the patient's link session, a staff member's pending admin message). After anonymisation every
column of every table is read back, and every session decoded, and none of the markers is found.
"""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.db import connection
from django.utils import timezone

from outcomes import services as outcome_services
from outcomes.models import AccessToken, CallAttempt, Draft, Message
from outcomes.patient_views import SESSION_KEY
from registry.models import Administration, AdverseEvent, Patient, PatientIdentity
from registry.services import patient_anonymise
from tests import factories

pytestmark = pytest.mark.django_db

GIVEN, FAMILY = "Quillonette", "Vorbramsky"
EMAIL = "qvorb.marker@example.test"
PHONE = "+44 20 7946 0958"
MOBILE = "+15550199876"
MRN = "MRN-ZQ4471"
BORN = date(1957, 3, 14)
ABOUT = "Zanzibarville"  # in the withdrawal reason only: free text about the person is erased, not scrubbed
MARKERS = [GIVEN, FAMILY, EMAIL, PHONE, MOBILE, MRN, "1957-03-14", "14/03/1957", ABOUT, "442079460958"]


def _seed(site, alice):
    site.withdrawal_policy = "anonymise"
    site.save()
    patient = factories.PatientFactory(
        site=site,
        identity__given_name=GIVEN,
        identity__family_name=FAMILY,
        identity__email=EMAIL,
        identity__phone=PHONE,
        identity__medical_record_number=MRN,
        identity__date_of_birth=BORN,
    )
    identity = PatientIdentity.objects.get(patient=patient)
    identity.mobile = MOBILE
    identity._change_reason = f"mobile given by {GIVEN} on the phone"
    identity.save()
    episode = factories.EpisodeFactory(patient=patient, index_date=date.today() - timedelta(days=100))
    episode._change_reason = f"index date corrected, {FAMILY} (born 14/03/1957) rang from 442079460958"
    episode.save()
    factories.AdministrationFactory(episode=episode)
    Administration.objects.filter(episode=episode).update(product_name=f"batch reserved for {FAMILY}")
    factories.AdverseEventFactory(episode=episode, description=f"{GIVEN} reported swelling to her GP")
    m3 = episode.follow_ups.get(timepoint="m3")
    outcome_services.call_log(follow_up=m3, outcome="left_message", by=alice, note=f"{FAMILY}'s daughter answers")
    Message.objects.create(
        kind="invitation",
        site=site,
        patient=patient,
        to_email=EMAIL,
        dedupe_key="scan-1",
        last_error=f"550 {EMAIL}: no such user",
    )
    Message.objects.create(
        kind="invitation", channel="sms", site=site, patient=patient, to_phone=MOBILE, dedupe_key="scan-2"
    )
    token = AccessToken.objects.create(
        token_hash="f" * 64, patient=patient, expires_at=timezone.now() + timedelta(days=9)
    )
    Draft.objects.create(token=token, follow_up=m3, instrument="vas", answers={"vas_mm": 40})
    link = SessionStore()
    link[SESSION_KEY] = token.pk
    link.create()
    staff = SessionStore()
    staff["_messages"] = json.dumps([f'The patient "{FAMILY}, {GIVEN}" was changed successfully.'])
    staff["_auth_user_id"] = str(alice.pk)
    staff.create()
    LogEntry.objects.log_actions(  # what the admin writes on an edit of the patient page's identity inline
        user_id=alice.pk,
        queryset=[patient],
        action_flag=CHANGE,
        change_message=[{"changed": {"name": "identity", "object": f"{FAMILY}, {GIVEN}", "fields": ["mobile"]}}],
        single_object=True,
    )
    LogEntry.objects.log_actions(user_id=alice.pk, queryset=[identity], action_flag=CHANGE, change_message="x")
    patient = Patient.objects.get(pk=patient.pk)
    patient.withdrawn_on = date.today()
    patient.withdrawal_reason = f"moving to {ABOUT}, says {GIVEN}"
    patient._change_reason = f"withdrawal told by {FAMILY} by phone"
    patient.save()
    return patient, staff.session_key, link.session_key


def _every_value():
    """(table, column, text) for every non-empty value of every column of every table, sessions decoded."""
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608 (our own table names)
            names = [c[0] for c in cursor.description]
            for row in cursor.fetchall():
                for name, value in zip(names, row, strict=True):
                    if value is not None:
                        text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
                        yield table, name, text
    for session in Session.objects.all():
        yield "django_session (decoded)", session.session_key, json.dumps(session.get_decoded(), ensure_ascii=False)


def test_anonymisation_leaves_no_identifying_value_anywhere(site_a, alice):
    patient, staff_session, link_session = _seed(site_a, alice)
    found_before = {m for _, _, text in _every_value() for m in MARKERS if m.lower() in text.lower()}
    assert found_before == set(MARKERS)  # the scan can see each of them

    patient_anonymise(patient=patient, by=alice, reason=f"request of {FAMILY} on 2026-11-01")

    leaks = [(t, c, m) for t, c, text in _every_value() for m in MARKERS if m.lower() in text.lower()]
    assert leaks == []
    # The clinical record stays, its free text scrubbed of the names only.
    assert AdverseEvent.objects.get(episode__patient=patient).description == "anonymised reported swelling to her GP"
    assert CallAttempt.objects.get(follow_up__episode__patient=patient).note == ""
    assert Session.objects.filter(session_key=staff_session).exists()  # the staff member stays logged in
    assert not Session.objects.filter(session_key=link_session).exists()  # the patient's link session ends
    assert Patient.objects.get(pk=patient.pk).withdrawal_reason == "anonymised"
