"""Every patient in their own language: the catalogues are complete and compiled, they cover every marked
string, and a Korean patient gets a Korean email, answers Korean pages and may switch among the languages the
site can ask everything in."""

from __future__ import annotations

import gettext
import os
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import translation

from outcomes import dispatcher, outbox
from outcomes.models import InstrumentWording, Response
from registry.models import PatientIdentity
from tests import factories

ROOT = Path(__file__).resolve().parents[2]
LOCALE = ROOT / "outcomes" / "locale"
SHIPPED = [code for code, _name in settings.LANGUAGES if code != "en"]
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")
HANGUL = re.compile(r"[\uac00-\ud7a3]")


def _locale_dir(code: str) -> str:
    return translation.to_locale(code)  # zh-hans -> zh_Hans


def _unquote(line: str) -> str:
    return line[line.index('"') + 1 : line.rindex('"')].encode("raw_unicode_escape").decode("unicode_escape")


def parse_po(path: Path) -> list[dict]:
    """The entries of a .po file: msgctxt, msgid, msgid_plural, msgstr (by plural index), flags. Enough of the
    format for ours."""
    entries, entry, key = [], None, None
    for raw in path.read_text(encoding="utf-8").splitlines() + [""]:
        line = raw.strip()
        if not line:
            if entry is not None:
                entries.append(entry)
            entry, key = None, None
            continue
        if entry is None:
            entry = {"msgctxt": None, "msgid": "", "msgid_plural": None, "msgstr": {}, "flags": set()}
        if line.startswith("#,"):
            entry["flags"] |= {f.strip() for f in line[2:].split(",")}
        elif line.startswith("#"):
            continue
        elif line.startswith("msgctxt"):
            key, entry["msgctxt"] = "msgctxt", _unquote(line)
        elif line.startswith("msgid_plural"):
            key, entry["msgid_plural"] = "msgid_plural", _unquote(line)
        elif line.startswith("msgid"):
            key, entry["msgid"] = "msgid", _unquote(line)
        elif line.startswith("msgstr["):
            key = int(line[7 : line.index("]")])
            entry["msgstr"][key] = _unquote(line)
        elif line.startswith("msgstr"):
            key = 0
            entry["msgstr"][0] = _unquote(line)
        elif line.startswith('"'):
            if isinstance(key, int):
                entry["msgstr"][key] += _unquote(line)
            else:
                entry[key] += _unquote(line)
    return [e for e in entries if e["msgid"]]  # the header has an empty msgid


@pytest.mark.parametrize("code", SHIPPED)
def test_each_shipped_language_translates_every_string_with_the_same_placeholders_and_is_compiled(code):
    po = LOCALE / _locale_dir(code) / "LC_MESSAGES" / "django.po"
    entries = parse_po(po)
    assert len(entries) > 100
    compiled = gettext.GNUTranslations((po.with_suffix(".mo")).open("rb"))
    for e in entries:
        where = f"{code}: {e['msgid'][:60]!r}"
        assert "fuzzy" not in e["flags"], where
        assert list(e["msgstr"]) == [0], f"{where}: these languages have one plural form"
        text = e["msgstr"][0]
        assert text.strip(), f"{where} has no translation"
        wanted = set(PLACEHOLDER.findall(e["msgid_plural"] or e["msgid"]))
        assert set(PLACEHOLDER.findall(text)) == wanted, where
        # The compiled catalogue says the same (a .po edited but not compiled fails here).
        if e["msgctxt"]:
            got = compiled.pgettext(e["msgctxt"], e["msgid"])
        elif e["msgid_plural"]:
            got = compiled.ngettext(e["msgid"], e["msgid_plural"], 1)
        else:
            got = compiled.gettext(e["msgid"])
        assert got == text, f"{where}: the .mo file is out of date (manage.py compilemessages)"


def test_the_catalogues_hold_every_string_the_code_marks(tmp_path):
    """makemessages over a copy of the app gives exactly the catalogue's strings: a string marked for
    translation but missing from the catalogues (or one left behind) fails here."""
    if shutil.which("xgettext") is None:
        if os.environ.get("REQUIRE_GETTEXT"):
            pytest.fail("xgettext (GNU gettext) is required here")
        pytest.skip("GNU gettext is not installed")
    copy = tmp_path / "outcomes"
    shutil.copytree(ROOT / "outcomes", copy, ignore=shutil.ignore_patterns("locale", "__pycache__", "static"))
    (copy / "locale").mkdir()
    subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "makemessages", "-l", "ko", "--no-location", "-v0"],
        cwd=copy,
        check=True,
        env={**os.environ, "DEBUG": "true"},
    )
    fresh = {(e["msgctxt"], e["msgid"]) for e in parse_po(copy / "locale" / "ko" / "LC_MESSAGES" / "django.po")}
    for code in SHIPPED:
        po = LOCALE / _locale_dir(code) / "LC_MESSAGES" / "django.po"
        shipped = {(e["msgctxt"], e["msgid"]) for e in parse_po(po)}
        assert fresh - shipped == set(), f"{code} lacks these (run makemessages and translate them)"
        assert shipped - fresh == set(), f"{code} holds strings no longer used (makemessages --no-obsolete)"


# A Korean patient ---------------------------------------------------------------------------------------------

NOW = datetime(2026, 6, 10, 9, 0, tzinfo=UTC)


@pytest.fixture
def korean_patient(db, time_machine):
    time_machine.move_to(NOW, tick=False)
    site = factories.SiteFactory(code="SEOUL", name="서울 관절 클리닉", contact_email="followup@seoul.example.test")
    assert InstrumentWording.objects.filter(site=site, language="ko", instrument="vas").exists()
    patient = factories.PatientFactory(site=site, identity__preferred_language="ko")
    factories.EpisodeFactory(patient=patient, joint="knee", side="left", index_date=NOW.date() - timedelta(days=100))
    return patient


def _visible_text(html: str) -> str:
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    html = re.sub(r"<[^>]+>", " ", html)
    return re.sub(r"\s+", " ", html)


def _no_english_sentence(text: str, allowed: tuple[str, ...] = ()) -> None:
    for word in allowed:
        text = text.replace(word, " ")
    leftover = re.findall(r"[A-Za-z]{2,}(?:[,.;:'’]?\s+[A-Za-z]{2,}){2,}", text)  # three English words in a row
    assert not leftover, f"English left on a page or in an email: {leftover[:5]}"


@pytest.mark.django_db
def test_a_korean_patient_gets_a_korean_email_and_answers_korean_pages(korean_patient):
    report = dispatcher.dispatch(now=NOW)
    for message_id in report.due:
        outbox.message_send(message_id=message_id, now=NOW)
    email = mail.outbox[-1]
    assert email.extra_headers["Content-Language"] == "ko"
    assert HANGUL.search(email.subject) and "서울 관절 클리닉" in email.subject
    assert re.search(r"\d{4}년 \d{1,2}월 \d{1,2}일", email.body), "dates follow the language"
    html = email.alternatives[0][0]
    _no_english_sentence(_visible_text(html), allowed=("followup@seoul.example.test",))
    _no_english_sentence(email.body, allowed=("followup@seoul.example.test",))
    token = re.search(r"/p/(?!optout)([\w-]+)/", email.body).group(1)

    client = Client()
    landing = client.get(f"/p/{token}/", follow=True)
    assert landing["Content-Language"] == "ko"
    page = landing.content.decode()
    assert '<html lang="ko">' in page and HANGUL.search(page)
    _no_english_sentence(_visible_text(page))
    number = 1
    while True:
        response = client.get(f"/p/q/{number}/")
        if response.status_code == 303:  # past the last page: on to the summary
            assert response["Location"] == reverse("outcomes:patient_summary"), response["Location"]
            break
        assert response.status_code == 200, response.status_code
        body = response.content.decode()
        # The page names the joint and the timepoint in Korean: the left knee, 3 months after the treatment.
        assert "왼쪽 무릎" in body and "치료 3개월 후" in body, "the page names the joint and timepoint in Korean"
        _no_english_sentence(_visible_text(body))
        form = response.context["form"]
        data = {name: "1" if hasattr(field, "choices") else "23" for name, field in form.fields.items()}
        assert client.post(f"/p/q/{number}/", data).status_code == 303
        number += 1
    summary = client.get("/p/q/summary/")
    _no_english_sentence(_visible_text(summary.content.decode()))
    assert client.post("/p/q/summary/").status_code == 303
    thanks = client.get("/p/q/thanks/")
    assert HANGUL.search(thanks.content.decode())
    _no_english_sentence(_visible_text(thanks.content.decode()))
    assert Response.objects.filter(follow_up__episode__patient=korean_patient).exists()


@pytest.mark.django_db
def test_the_patient_switches_language_among_those_the_site_can_ask_everything_in(korean_patient):
    site = korean_patient.site
    report = dispatcher.dispatch(now=NOW)
    for message_id in report.due:
        outbox.message_send(message_id=message_id, now=NOW)
    token = re.search(r"/p/(?!optout)([\w-]+)/", mail.outbox[-1].body).group(1)
    client = Client()
    client.get(f"/p/{token}/")
    # Japanese wording is taken away: Japanese is no longer offered.
    offered = dict(client.get("/p/q/").context["languages"])
    assert "ko" in offered and "en" in offered
    InstrumentWording.objects.filter(site=site, language="ja").delete()
    offered = dict(client.get("/p/q/").context["languages"])
    assert "ja" not in offered
    refused = client.post("/p/language/", {"language": "ja", "next": "/p/q/"})
    assert refused.status_code == 400 and HANGUL.search(refused.content.decode())
    assert client.post("/p/language/", {"language": "xx"}).status_code == 400
    identity = PatientIdentity.objects.get(patient=korean_patient)
    assert identity.preferred_language == "ko"  # nothing changed by a refused switch

    switched = client.post("/p/language/", {"language": "en", "next": "https://evil.example/p/q/"})
    assert switched.status_code == 303 and switched["Location"] == "/p/q/"  # never off the site
    identity.refresh_from_db()
    assert identity.preferred_language == "en"
    assert identity.history.first().history_change_reason == "language chosen by the patient on the questionnaire page"
    page = client.get("/p/q/")
    assert page["Content-Language"] == "en" and '<html lang="en">' in page.content.decode()
