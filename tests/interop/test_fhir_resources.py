"""FHIR out for staff: every Questionnaire, the CapabilityStatement, and a patient's QuestionnaireResponses and
Observations as searchset Bundles, each resource valid R4; own site only; another site's patient 404."""

from __future__ import annotations

import pytest
from django.test import Client

import scoring
from interop import fhir
from outcomes import services
from tests.interop.conftest import bearer, koos_answers, validate

pytestmark = pytest.mark.django_db

FHIR_JSON = "application/fhir+json"


@pytest.mark.parametrize("instrument", fhir.questionnaire_ids())
def test_every_instrument_is_a_valid_questionnaire_with_coded_answers(instrument):
    resource = fhir.questionnaire(instrument)
    validate(resource)
    questions = [q for group in resource["item"] for q in group.get("item", [group])]
    assert {q["linkId"] for q in questions} == {i.code for i in fhir.items(instrument)}
    for question, item in zip(questions, fhir.items(instrument), strict=False):
        if item.kind == "choice":
            codes = [o["valueCoding"]["code"] for o in question["answerOption"]]
            assert codes == [str(o.value) for o in item.options]
    assert resource["extension"][0]["valueString"] == scoring.SCORING_VERSION


def test_loinc_codes_where_they_exist():
    assert fhir.questionnaire("koos")["code"] == [{"system": fhir.LOINC, "code": "72091-2"}]
    assert fhir.questionnaire("hoos")["code"][0]["code"] == "72092-0"
    assert fhir.questionnaire("odi")["code"][0]["code"] == "97908-8"
    assert fhir.questionnaire("koos_jr")["code"][0]["code"] == "82324-5"
    assert "code" not in fhir.questionnaire("vas")
    jr_items = [q for g in fhir.questionnaire("koos_jr")["item"] for q in g["item"]]
    assert all(q["code"][0]["system"] == fhir.LOINC for q in jr_items)
    assert fhir.score_code("koos_jr", "interval")["coding"][0]["system"] == fhir.LOINC
    assert fhir.score_code("koos", "pain")["coding"] == [
        {
            "system": fhir.SCORE_SYSTEM,
            "code": "koos.pain",
            "display": "Knee injury and Osteoarthritis Outcome Score "
            "(KOOS): " + scoring.get_instrument("koos").output("pain").label,
        }
    ]


def test_metadata_is_public_and_a_capability_statement(client):
    response = client.get("/fhir/metadata")
    assert response.status_code == 200 and response["Content-Type"] == FHIR_JSON
    statement = response.json()
    validate(statement)
    assert statement["fhirVersion"] == "4.0.1"


def test_questionnaires_need_staff_or_a_key(alice_client, key_a):
    client = Client()
    assert client.get("/fhir/Questionnaire").status_code == 401
    validate(client.get("/fhir/Questionnaire").json())  # the refusal is an OperationOutcome
    bundle = alice_client.get("/fhir/Questionnaire").json()
    validate(bundle)
    assert bundle["total"] == len(fhir.questionnaire_ids())
    one = client.get("/fhir/Questionnaire/koos", headers=bearer(key_a[1]))
    assert one.status_code == 200 and one.json()["url"] == fhir.questionnaire_url("koos")
    found = client.get("/fhir/Questionnaire", {"url": fhir.questionnaire_url("odi")}, headers=bearer(key_a[1])).json()
    assert [e["resource"]["id"] for e in found["entry"]] == ["odi"]
    assert client.get("/fhir/Questionnaire/nope", headers=bearer(key_a[1])).status_code == 404


def test_a_patients_responses_and_scores_as_bundles(alice_client, alice, knees, patient_a):
    left, _ = knees
    services.response_submit(follow_up=left, instrument="koos", answers=koos_answers(1), by=alice, mode="paper")
    services.response_submit(follow_up=left, instrument="vas", answers={"vas_mm": 35}, by=alice, mode="paper")
    patient = alice_client.get(f"/fhir/Patient/{patient_a.registry_id}")
    assert patient.status_code == 200 and patient["Content-Type"] == FHIR_JSON
    validate(patient.json())
    assert patient.json()["name"][0]["family"] == "Aardvark"

    responses = alice_client.get("/fhir/QuestionnaireResponse", {"patient": f"Patient/{patient_a.registry_id}"})
    assert responses.status_code == 200
    bundle = responses.json()
    validate(bundle)
    assert bundle["type"] == "searchset" and bundle["total"] == 2
    koos = next(e["resource"] for e in bundle["entry"] if "koos" in e["resource"]["questionnaire"])
    assert koos["basedOn"][0]["identifier"]["value"] == str(left.pk)
    answered = [leaf for group in koos["item"] for leaf in group["item"]]
    assert len(answered) == len(koos_answers()) and all(a["answer"][0]["valueCoding"]["code"] == "1" for a in answered)

    observations = alice_client.get("/fhir/Observation", {"patient": patient_a.registry_id}).json()
    validate(observations)
    resources = [e["resource"] for e in observations["entry"]]
    pain = next(r for r in resources if r["code"]["coding"][-1].get("code") == "koos.pain")
    assert pain["valueQuantity"]["value"] == 75.0
    panel = next(r for r in resources if r["code"]["coding"][0] == {"system": fhir.LOINC, "code": "72091-2"})
    assert len(panel["hasMember"]) == len(scoring.get_instrument("koos").outputs)
    vas = next(r for r in resources if r["code"]["coding"][-1].get("code") == "vas.vas_mm")
    assert vas["valueQuantity"]["value"] == 35.0


def test_another_sites_patient_is_not_found(alice_client, bob, patient_b, key_a):
    client = Client()
    for url in (
        f"/fhir/Patient/{patient_b.registry_id}",
        f"/fhir/QuestionnaireResponse?patient=Patient/{patient_b.registry_id}",
        f"/fhir/Observation?patient={patient_b.registry_id}",
    ):
        for response in (alice_client.get(url), client.get(url, headers=bearer(key_a[1]))):
            assert response.status_code == 404, url
            outcome = response.json()
            validate(outcome)
            assert outcome["resourceType"] == "OperationOutcome"


def test_a_research_key_or_a_revoked_key_opens_no_staff_endpoint(client, site_a, patient_a, key_a):
    from interop.services import integration_key_revoke
    from research.services import api_key_create

    _, raw = api_key_create(name="study", sites=[site_a], tier="rows")
    assert client.get(f"/fhir/Patient/{patient_a.registry_id}", headers=bearer(raw)).status_code == 401
    integration_key_revoke(key=key_a[0])
    assert client.get(f"/fhir/Patient/{patient_a.registry_id}", headers=bearer(key_a[1])).status_code == 401
    assert client.get("/fhir/Observation", headers=bearer("ik_nothing")).status_code == 401
