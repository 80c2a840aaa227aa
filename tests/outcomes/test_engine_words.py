"""The scoring engine's English names on staff pages in the staff member's language: instrument names, score
names, section headings, recall periods and the EQ-5D-5L value set's country (outcomes/engine_words.py)."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import translation

import scoring
from outcomes import services
from outcomes.charts.episode import _abbreviation
from outcomes.engine_words import AS_IS, WORDS, staff
from outcomes.models import OutcomePlan
from outcomes.score_words import plain_name
from scoring.eq5d import VALUE_SETS
from tests.outcomes.test_second_set import plan_episode, valid_answers

LANGUAGES = ("ko", "ja", "zh-hans", "zh-hant")


def engine_texts() -> set[str]:
    texts = {v.name for v in VALUE_SETS.values()}
    for definition in scoring.INSTRUMENTS.values():
        texts |= {definition.name, definition.recall_period, *definition.notes}
        texts |= {plain_name(o.label) for o in definition.outputs}
        texts |= {s.label for s in definition.sections}
    return texts


def test_every_text_the_engine_shows_staff_is_listed():
    # A new instrument, score or section fails here until its names are listed and translated.
    assert engine_texts() - WORDS - AS_IS == set()
    assert WORDS - engine_texts() == set(), "listed but no longer in the engine"


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_listed_text_is_translated(language):
    with translation.override(language):
        untranslated = sorted(text for text in WORDS if staff(text) == text)
    assert untranslated == []


def test_a_translated_instrument_name_keeps_its_abbreviation():
    # The episode charts title a chart by the abbreviation in the name's closing parentheses ("KOOS", "VAS").
    for definition in scoring.INSTRUMENTS.values():
        for language in LANGUAGES:
            with translation.override(language):
                name = staff(definition.name)
            if _abbreviation(definition.name) != definition.name:
                assert _abbreviation(name) == _abbreviation(definition.name), (language, name)


def test_text_that_is_not_the_engines_is_shown_as_given():
    with translation.override("ko"):
        assert staff("Sintomas (wording loaded by a site)") == "Sintomas (wording loaded by a site)"
        assert staff("ODI") == "ODI"


@pytest.mark.django_db
def test_a_korean_coordinator_reads_scores_sections_and_recall_periods_in_korean(alice, alice_client, patient_a, today):
    patient_a.site.country = "KR"
    patient_a.site.save()
    fu = plan_episode(patient_a, today, ["ikdc", "eq5d5l"])
    for instrument in ("ikdc", "eq5d5l"):
        services.response_submit(
            follow_up=fu, instrument=instrument, answers=valid_answers(instrument), by=alice, mode="phone"
        )
    headers = {"accept-language": "ko"}
    page = alice_client.get(reverse("admin:outcomes_followup_change", args=[fu.pk]), headers=headers)
    body = page.content.decode()
    assert page.status_code == 200 and page["Content-Language"] == "ko"
    for korean in ("IKDC 주관적 무릎 평가지", "IKDC 주관적 무릎 점수", "EQ-5D-5L 지수", "KR 가치 세트", "대한민국"):
        assert korean in body, korean
    for english in ("IKDC subjective knee score", "IKDC Subjective Knee Evaluation Form", "South Korea"):
        assert english not in body, english

    entry = alice_client.get(reverse("admin:outcomes_followup_enter", args=[fu.pk, "ikdc"]), headers=headers)
    body = entry.content.decode()
    assert entry.status_code == 200
    for korean in ("증상", "스포츠 활동", "지난 4주 또는 부상 이후(증상)", "IKDC10a(부상 전 기능)는 임상의를 위해"):
        assert korean in body, korean
    for english in (">Symptoms<", "Sports activities", "the past 4 weeks", "is recorded for the clinician"):
        assert english not in body, english


@pytest.mark.django_db
def test_the_plan_list_names_its_timepoints_in_the_staff_language(admin_client):
    OutcomePlan.objects.get_or_create(name="Knee default", joint="knee", site=None, protocol=None)
    page = admin_client.get(reverse("admin:outcomes_outcomeplan_changelist"), headers={"accept-language": "ko"})
    assert page.status_code == 200
    body = page.content.decode()
    with translation.override("ko"):
        baseline = str(translation.gettext("Baseline"))
    assert f"{baseline}: " in body and "baseline: " not in body
