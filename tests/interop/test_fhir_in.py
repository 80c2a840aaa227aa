"""FHIR in: a site's integration key posts a QuestionnaireResponse, stored, scored and audited as staff entry is,
with mode "external"; every refusal is a 4xx OperationOutcome naming the problem, and nothing is saved."""

from __future__ import annotations

import copy
import json
from datetime import timedelta

import pytest
from django.test import Client

from interop import fhir
from outcomes import services
from outcomes.models import FollowUpStatus, Response, Score
from tests.interop.conftest import bearer, koos_answers, validate

pytestmark = pytest.mark.django_db


def qr_for(follow_up, answers: dict[str, int], instrument: str = "koos") -> dict:
    """A QuestionnaireResponse as a record system would post it (flat items, no groups)."""
    return {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": fhir.canonical_of(instrument),
        "status": "completed",
        "subject": {"reference": f"Patient/{follow_up.episode.patient.registry_id}"},
        "basedOn": [{"identifier": {"system": fhir.ID_FOLLOW_UP, "value": str(follow_up.pk)}}],
        "item": [
            {
                "linkId": code,
                "answer": [{"valueCoding": {"system": f"{fhir.ANSWER_SYSTEM}/koos.{code}", "code": str(v)}}],
            }
            for code, v in answers.items()
        ],
    }


def post(raw: str, body) -> object:
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return Client().post("/fhir/QuestionnaireResponse", data, content_type="application/fhir+json", headers=bearer(raw))


def scores_of(follow_up, instrument="koos") -> dict[str, float | None]:
    return dict(Score.objects.filter(follow_up=follow_up, instrument=instrument).values_list("key", "value"))


def test_a_posted_response_is_stored_scored_and_audited_as_external(knees, key_a):
    left, _ = knees
    response = post(key_a[1], qr_for(left, koos_answers(1)))
    assert response.status_code == 201, response.content
    created = response.json()
    validate(created)
    assert response["Location"].endswith(f"/fhir/QuestionnaireResponse/{created['id']}")
    stored = Response.objects.get(follow_up=left, instrument="koos")
    assert (stored.mode, stored.entered_via, stored.entered_by) == ("external", "external_system", None)
    assert scores_of(left)["pain"] == 75.0
    assert scores_of(left, "womac_from_koos")  # derived scores too, as for staff entry
    version = stored.history.get()
    assert key_a[0].prefix in version.history_change_reason


def test_round_trip_exported_then_posted_to_another_follow_up_scores_equal(alice, alice_client, knees, key_a):
    left, right = knees
    answers = koos_answers(2) | {"P1": 0, "S3": 4, "Q2": 3}
    services.response_submit(follow_up=left, instrument="koos", answers=answers, by=alice, mode="paper")
    patient = left.episode.patient.registry_id
    bundle = alice_client.get("/fhir/QuestionnaireResponse", {"patient": patient}).json()
    exported = bundle["entry"][0]["resource"]
    posted = copy.deepcopy(exported)
    del posted["id"], posted["identifier"]
    posted["basedOn"] = [{"identifier": {"system": fhir.ID_FOLLOW_UP, "value": str(right.pk)}}]
    response = post(key_a[1], posted)
    assert response.status_code == 201, response.content
    assert scores_of(right) == scores_of(left) and scores_of(left)
    assert Response.objects.get(follow_up=right).answers == answers


def test_missing_reasons_travel_as_an_extension(knees, key_a):
    left, _ = knees
    body = qr_for(left, {k: v for k, v in koos_answers(1).items() if k != "P2"})
    body["item"].append({"linkId": "P2", "extension": [{"url": fhir.EXT_MISSING_REASON, "valueCode": "declined"}]})
    assert post(key_a[1], body).status_code == 201
    assert Response.objects.get(follow_up=left).missing == {"P2": "declined"}


def _outcome(response, status: int, words: str) -> None:
    assert response.status_code == status, (response.status_code, response.content)
    assert response["Content-Type"] == "application/fhir+json"
    outcome = response.json()
    validate(outcome)
    assert words in outcome["issue"][0]["diagnostics"], outcome


def test_refusals_name_the_problem_and_save_nothing(knees, key_a, key_b, patient_b):
    left, _ = knees
    good = qr_for(left, koos_answers(1))
    unknown_item = copy.deepcopy(good)
    unknown_item["item"][0]["linkId"] = "P99"
    out_of_range = copy.deepcopy(good)
    out_of_range["item"][0]["answer"][0]["valueCoding"]["code"] = "7"
    vas = [{"linkId": "vas_mm", "answer": [{"valueDecimal": 150}]}]
    odi = [{"linkId": "S1", "answer": [{"valueCoding": {"code": "0"}}]}]
    other_site = copy.deepcopy(good)
    other_site["subject"]["reference"] = f"Patient/{patient_b.registry_id}"
    cases = [
        (key_a[1], "{not json", 400, "not valid JSON"),
        (key_a[1], {"resourceType": "Observation"}, 400, "Expected a QuestionnaireResponse"),
        (key_a[1], unknown_item, 422, "has no item 'P99'"),
        (key_a[1], out_of_range, 422, "'7' is not one of its answers"),
        (key_a[1], other_site, 404, "No patient"),
        (key_b[1], good, 404, "No patient"),  # site B's key, site A's patient
        (key_a[1], {**good, "status": "in-progress"}, 422, "completed"),
        (key_a[1], {**good, "questionnaire": "http://example.org/Questionnaire/x"}, 422, "Unknown questionnaire"),
        (key_a[1], {**good, "basedOn": []}, 422, "Name the follow-up"),
        (key_a[1], {**good, "item": []}, 422, "answers no item"),
        (key_a[1], {**good, "item": [{"linkId": "P1", "extension": "x"}]}, 400, "extension"),
        (key_a[1], {**good, "item": "P1"}, 400, "list of items"),
        (key_a[1], {**good, "questionnaire": fhir.canonical_of("vas"), "item": vas}, 422, "vas_mm"),
        (key_a[1], {**good, "questionnaire": fhir.canonical_of("odi"), "item": odi}, 422, "odi is not owed"),
    ]
    for raw, body, status, words in cases:
        _outcome(post(raw, body), status, words)
    assert not Response.objects.filter(follow_up=left).exists()
    assert not Score.objects.filter(follow_up=left).exists()


def test_closed_follow_ups_refuse_answers(knees, key_a):
    left, right = knees
    right.status = FollowUpStatus.REFUSED
    right.save()
    _outcome(post(key_a[1], qr_for(right, koos_answers(1))), 409, "closed")
    baseline = left.episode.follow_ups.get(timepoint="baseline")
    late = qr_for(baseline, koos_answers(1))
    _outcome(post(key_a[1], late), 409, "window closed")
    early = qr_for(left, koos_answers(1)) | {
        "authored": (left.window_opens - timedelta(days=3)).isoformat() + "T12:00:00+00:00"
    }
    _outcome(post(key_a[1], early), 409, "opens on")
    assert not Response.objects.exists()


def test_a_second_post_of_other_answers_is_refused_not_overwritten(knees, key_a):
    left, _ = knees
    assert post(key_a[1], qr_for(left, koos_answers(1))).status_code == 201
    assert post(key_a[1], qr_for(left, koos_answers(1))).status_code == 201  # the same again: nothing to do
    _outcome(post(key_a[1], qr_for(left, koos_answers(2))), 422, "already submitted")
    assert scores_of(left)["pain"] == 75.0


def test_staff_sessions_and_research_keys_cannot_post(alice_client, knees, site_a):
    from research.services import api_key_create

    left, _ = knees
    body = json.dumps(qr_for(left, koos_answers(1)))
    response = alice_client.post("/fhir/QuestionnaireResponse", body, content_type="application/fhir+json")
    _outcome(response, 403, "integration key")
    _, raw = api_key_create(name="study", sites=[site_a], tier="rows")
    _outcome(post(raw, body), 401, "integration key")
    assert not Response.objects.exists()
