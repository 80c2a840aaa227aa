"""A coordinator in their own language: the follow-up work screen, the worklist and answer entry follow the
browser's language (Korean, Japanese), while what the patient is handed keeps the patient's language."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from tests import factories
from tests.outcomes.test_languages import korean_patient

__all__ = ["korean_patient"]  # a fixture of the patient pages' tests, used here too

pytestmark = pytest.mark.django_db

# What each page says in each language: a heading, a column or field, a button, a status.
WORDS = {
    "ko": {
        "work": ("추적 관찰", "받지 않음", "아직 통화 기록이 없습니다.", "응답 기간 시작", "일정", "누가 어떻게 응답"),
        "worklist": ("추적 관찰 작업 목록", "오늘 할 일 (진행 중, 마감 임박 순)", "다음 단계", "전화…", "진행 중"),
        "entry": ("응답한 날짜", "저장 및 채점", "빈칸 사유", "응답 방법", "회상 기간"),
    },
    "ja": {
        "work": (
            "フォローアップ",
            "応答なし",
            "まだ通話記録はありません。",
            "回答期間の開始",
            "スケジュール",
            "回答者と方法",
        ),
        "worklist": ("フォローアップ作業リスト", "本日の作業（受付中、締切が近い順）", "次の作業", "電話…", "受付中"),
        "entry": ("回答日", "保存して採点", "空欄の理由", "回答方法", "想起期間"),
    },
}
# The same pages' English, which must be gone.
ENGLISH = {
    "work": ("No calls yet.", ">No answer</button>", "Window opens", "who answers how", "Note (optional)"),
    "worklist": ("Follow-up worklist", "To do today", "next step", "Call…"),
    "entry": ("Date the answers were given", "Save and score", "Left blank because", "Recall period"),
}


def _visible(html: str) -> str:
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _english_sentences(text: str, allowed: tuple[str, ...]) -> list[str]:
    for word in allowed:
        text = text.replace(word, " ")
    return re.findall(r"[A-Za-z]{2,}(?:[,.;:'’]?\s+[A-Za-z]{2,}){2,}", text)  # three English words in a row


@pytest.mark.parametrize("code", ["ko", "ja"])
def test_a_coordinator_sees_the_work_screen_worklist_and_entry_in_the_browsers_language(
    alice_client, knee_episode, code
):
    m3 = knee_episode.follow_ups.get(timepoint="m3")
    headers = {"accept-language": code}
    pages = {
        "work": alice_client.get(reverse("admin:outcomes_followup_change", args=[m3.pk]), headers=headers),
        "worklist": alice_client.get(reverse("admin:outcomes_worklist_changelist"), headers=headers),
        "entry": alice_client.get(reverse("admin:outcomes_followup_enter", args=[m3.pk, "vas"]), headers=headers),
    }
    for name, response in pages.items():
        assert response.status_code == 200 and response["Content-Language"] == code, name
        body = response.content.decode()
        for word in WORDS[code][name]:
            assert word in body, f"{code} {name}: {word!r}"
        for english in ENGLISH[name]:
            assert english not in body, f"{code} {name}: {english!r} left in English"
    # No English sentence left on the work screen and the worklist (the patient's own name, e-mail address and
    # the scoring engine's instrument names aside).
    identity = knee_episode.patient.identity
    allowed = (f"{identity.given_name} {identity.family_name}", identity.email or "@")
    for name in ("work", "worklist"):
        leftover = _english_sentences(_visible(pages[name].content.decode()), allowed)
        assert not leftover, f"{code} {name}: {leftover[:5]}"


def test_entry_errors_and_the_saved_message_are_in_the_coordinators_language(alice_client, knee_episode, today):
    m3 = knee_episode.follow_ups.get(timepoint="m3")
    url = reverse("admin:outcomes_followup_enter", args=[m3.pk, "vas"])
    blank = alice_client.post(
        url, {"completed_on": today.isoformat(), "mode": "phone"}, headers={"accept-language": "ko"}
    ).content.decode()
    assert "사유 없는 빈칸:" in blank and "빈칸인 이유는 무엇입니까?" in blank
    saved = alice_client.post(
        url,
        {"completed_on": today.isoformat(), "mode": "phone", "item_vas_mm": "23"},
        headers={"accept-language": "ja"},
        follow=True,
    )
    assert "通話" in saved.content.decode() and "保存・採点しました" in saved.content.decode()


def test_a_japanese_coordinator_hands_the_tablet_to_a_korean_patient_who_answers_in_korean(client, korean_patient):
    coordinator = factories.staff_user("sato", korean_patient.site)
    client.force_login(coordinator)
    follow_up = korean_patient.episodes.get().follow_ups.get(timepoint="m3")
    url = reverse("admin:outcomes_followup_tablet", args=[follow_up.pk])
    page = client.get(url, headers={"accept-language": "ja"})
    assert page["Content-Language"] == "ja"
    body = page.content.decode()
    assert "院内タブレットを患者に渡す" in body and "今すぐタブレットを渡す" in body
    assert "左膝・治療3か月後" in body  # what the patient is asked, named for staff

    handed = client.post(url, headers={"accept-language": "ja"}, follow=True)
    assert handed["Content-Language"] == "ko"
    assert '<html lang="ko">' in handed.content.decode()
    assert "왼쪽 무릎" in handed.content.decode()
