"""Staff in their own language: the staff catalogues of registry, research, interop and project are complete,
compiled and cover every marked string; the admin follows the browser's language, or the one chosen in its header
(kept in a cookie); patient pages and emails keep the patient's language whatever the staff's."""

from __future__ import annotations

import gettext
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core import mail
from django.test import Client
from django.utils import translation

from outcomes import dispatcher, outbox
from tests import factories
from tests.outcomes.test_languages import NOW, PLACEHOLDER, SHIPPED, _locale_dir, korean_patient, parse_po

__all__ = ["korean_patient"]  # a fixture of the patient pages' tests, used here too

ROOT = Path(__file__).resolve().parents[2]
STAFF_APPS = ["registry", "outcomes", "research", "interop", "project"]
# What each language is written in. A translation holds some of it: no English left behind.
SCRIPT = {
    "ko": re.compile(r"[\uac00-\ud7a3]"),
    "ja": re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]"),
    "zh-hans": re.compile(r"[\u4e00-\u9fff]"),
    "zh-hant": re.compile(r"[\u4e00-\u9fff]"),
}
# Codes, abbreviations and formats that read the same in every language.
SAME_IN_EVERY_LANGUAGE = {
    "PRP",
    "USA: FDA IND / IDE",
    "%(product)s on %(date)s",
    "%(surgery)s on %(date)s",
    "%(user)s at %(site)s (%(role)s)",
    "%(part)s, %(when)s",
    "SHA-256",  # the checksum an import run keeps
}


def _po(app: str, code: str) -> Path:
    return ROOT / app / "locale" / _locale_dir(code) / "LC_MESSAGES" / "django.po"


@pytest.mark.parametrize("code", SHIPPED)
@pytest.mark.parametrize("app", STAFF_APPS)
def test_each_staff_catalogue_translates_every_string_in_the_language_and_is_compiled(app, code):
    po = _po(app, code)
    entries = parse_po(po)
    assert entries, f"{po} is empty"
    compiled = gettext.GNUTranslations(po.with_suffix(".mo").open("rb"))
    for e in entries:
        where = f"{app} {code}: {e['msgid'][:60]!r}"
        assert "fuzzy" not in e["flags"], where
        assert list(e["msgstr"]) == [0], f"{where}: these languages have one plural form"
        text = e["msgstr"][0]
        assert text.strip(), f"{where} has no translation"
        assert set(PLACEHOLDER.findall(text)) == set(PLACEHOLDER.findall(e["msgid_plural"] or e["msgid"])), where
        if e["msgid"] not in SAME_IN_EVERY_LANGUAGE:
            assert SCRIPT[code].search(text), f"{where} is not written in the language: {text!r}"
        assert _lookup(compiled, e) == text, f"{where}: the .mo file is out of date (manage.py compilemessages)"


def _lookup(catalogue, e: dict) -> str:
    if e["msgctxt"]:
        return catalogue.pgettext(e["msgctxt"], e["msgid"])
    if e["msgid_plural"]:
        return catalogue.ngettext(e["msgid"], e["msgid_plural"], 1)
    return catalogue.gettext(e["msgid"])


@pytest.mark.parametrize("code", SHIPPED)
def test_staff_see_the_shipped_words_and_the_patients_keep_theirs(code):
    """Django merges every app's catalogue, the first installed app winning a msgid they share. A staff string
    that Django or the patient pages (outcomes, installed before research and project) also translate must read
    the same there, and no registry string (installed before outcomes) may replace a patient-facing translation:
    a shared word takes a context (e.g. pgettext("joint", "Knee"))."""
    patients = {
        (e["msgctxt"], e["msgid"]): e["msgstr"][0]
        for e in parse_po(ROOT / "outcomes" / "locale" / _locale_dir(code) / "LC_MESSAGES" / "django.po")
    }
    with translation.override(code):
        for app in STAFF_APPS:
            for e in parse_po(_po(app, code)):
                where = f"{app} {code}: {e['msgid'][:60]!r}"
                assert _lookup(translation, e) == e["msgstr"][0], f"{where}: another catalogue wins this msgid"
                shared = patients.get((e["msgctxt"], e["msgid"]))
                assert shared in (None, e["msgstr"][0]), f"{where}: the patient pages say {shared!r}"


@pytest.mark.parametrize("app", STAFF_APPS)
def test_the_staff_catalogues_hold_every_string_the_code_marks(app, tmp_path):
    """makemessages over a copy of the app gives exactly the catalogue's strings."""
    if shutil.which("xgettext") is None:
        if os.environ.get("REQUIRE_GETTEXT"):
            pytest.fail("xgettext (GNU gettext) is required here")
        pytest.skip("GNU gettext is not installed")
    copy = tmp_path / app
    shutil.copytree(ROOT / app, copy, ignore=shutil.ignore_patterns("locale", "__pycache__", "static"))
    (copy / "locale").mkdir()
    subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "makemessages", "-l", "ko", "--no-location", "-v0"],
        cwd=copy,
        check=True,
        env={**os.environ, "DEBUG": "true"},
    )
    fresh = {(e["msgctxt"], e["msgid"]) for e in parse_po(copy / "locale" / "ko" / "LC_MESSAGES" / "django.po")}
    for code in SHIPPED:
        shipped = {(e["msgctxt"], e["msgid"]) for e in parse_po(_po(app, code))}
        assert fresh - shipped == set(), f"{app} {code} lacks these (run makemessages and translate them)"
        assert shipped - fresh == set(), f"{app} {code} holds strings no longer used (makemessages --no-obsolete)"


def test_the_staff_apps_are_installed_so_their_catalogues_are_found():
    installed = {name.split(".apps.")[0] for name in settings.INSTALLED_APPS}
    assert set(STAFF_APPS) <= installed
    middleware = settings.MIDDLEWARE
    locale = middleware.index("django.middleware.locale.LocaleMiddleware")
    assert middleware.index("django.contrib.sessions.middleware.SessionMiddleware") < locale
    assert locale < middleware.index("django.middleware.common.CommonMiddleware")


# A Korean coordinator --------------------------------------------------------------------------------------


def _text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


@pytest.mark.django_db
def test_a_coordinator_whose_browser_says_korean_sees_the_admin_in_korean(alice_client, patient_a):
    index = alice_client.get("/admin/", headers={"accept-language": "ko-KR,ko;q=0.9,en;q=0.5"})
    assert index.status_code == 200 and index["Content-Language"] == "ko"
    page = index.content.decode()
    assert '<html lang="ko"' in page
    text = _text(index)
    assert "치료 결과 레지스트리" in text  # our site header
    assert "기관 대시보드" in text and "대시보드" in text  # our dashboards block
    assert "레지스트리" in text and "환자" in text  # the app and its models
    assert "최근 활동" in text and "로그아웃" in text  # Django's own: recent actions, log out

    change = alice_client.get(
        f"/admin/registry/patient/{patient_a.pk}/change/", headers={"accept-language": "ko"}
    ).content.decode()
    for korean in ("동의일", "레지스트리 추적 관찰에 동의", "동의 철회", "변경 사유", "환자 신원 정보", "생년월일"):
        assert korean in change, korean
    assert "여성" in change or "남성" in change  # the sex choices
    assert ">예<" in change or "예</label>" in change  # the consent's yes/no
    assert "저장" in change and "히스토리" in change  # Django's Save and History
    for english in ("Reason for change", "consents to research use", "Withdrawal", "date of birth"):
        assert english not in change, english


@pytest.mark.django_db
def test_the_header_switch_changes_the_language_and_remembers_it(alice_client, alice):
    korean = alice_client.get("/admin/", headers={"accept-language": "ko"})
    switch = re.search(r'<form action="(/i18n/setlang/)" method="post" id="language-switch"', korean.content.decode())
    assert switch, "the header offers the language switch"
    for code, name in settings.LANGUAGES:
        assert f'value="{code}" lang="{code}"' in korean.content.decode() and name in korean.content.decode()

    chosen = alice_client.post("/i18n/setlang/", {"language": "ja", "next": "/admin/registry/patient/"})
    assert chosen.status_code == 302 and chosen["Location"] == "/admin/registry/patient/"
    cookie = chosen.cookies[settings.LANGUAGE_COOKIE_NAME]
    assert cookie.value == "ja" and cookie["max-age"] == settings.LANGUAGE_COOKIE_AGE

    listing = alice_client.get("/admin/registry/patient/", headers={"accept-language": "ko"})
    assert listing["Content-Language"] == "ja"
    assert "治療成績レジストリ" in listing.content.decode() and "患者" in listing.content.decode()

    # Remembered after logging out and in again (the cookie, not the session).
    alice_client.post("/admin/logout/")
    alice_client.force_login(alice)
    again = alice_client.get("/admin/", headers={"accept-language": "ko"})
    assert again["Content-Language"] == "ja" and "最近行った操作" in again.content.decode()

    # Never off the site.
    away = alice_client.post("/i18n/setlang/", {"language": "zh-hant", "next": "https://evil.example/admin/"})
    assert away.status_code == 302 and not away["Location"].startswith("https://evil.example")


def test_the_login_page_follows_the_browser_and_offers_the_switch(client):
    page = client.get("/admin/login/", headers={"accept-language": "zh-TW,zh;q=0.8"})
    assert page["Content-Language"] == "zh-hant"
    body = page.content.decode()
    assert "療效登錄系統" in body and 'id="language-switch"' in body
    simplified = client.get("/admin/login/", headers={"accept-language": "zh-CN"}).content.decode()
    assert "疗效登记系统" in simplified and "工作人员页面语言" in simplified


@pytest.mark.django_db
def test_validation_messages_are_in_the_staff_language(alice_client, patient_a):
    episode = factories.EpisodeFactory(patient=patient_a, joint="knee", side="left")
    response = alice_client.post(
        f"/admin/registry/treatmentepisode/{episode.pk}/change/",
        {"patient": patient_a.pk, "index_date": episode.index_date, "joint": "knee", "side": "midline"},
        headers={"accept-language": "ja"},
    )
    assert response.status_code == 200
    assert "膝・股関節の場合は左右（左または右）を指定してください。" in response.content.decode()


# The patient keeps theirs ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_patient_pages_and_emails_keep_the_patients_language_whatever_the_staffs(korean_patient):
    with translation.override("ja"):  # e.g. sent during a Japanese coordinator's request
        report = dispatcher.dispatch(now=NOW)
        for message_id in report.due:
            outbox.message_send(message_id=message_id, now=NOW)
    email = mail.outbox[-1]
    assert email.extra_headers["Content-Language"] == "ko"
    token = re.search(r"/p/(?!optout)([\w-]+)/", email.body).group(1)

    browser = Client()  # a shared clinic tablet: a Japanese coordinator chose Japanese on it
    browser.post("/i18n/setlang/", {"language": "ja", "next": "/admin/"})
    landing = browser.get(f"/p/{token}/", follow=True, headers={"accept-language": "zh-hant"})
    assert landing["Content-Language"] == "ko"
    assert '<html lang="ko">' in landing.content.decode()
    page = browser.get("/p/q/1/", headers={"accept-language": "zh-hant"})
    assert page["Content-Language"] == "ko"
