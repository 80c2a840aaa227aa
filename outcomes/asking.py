"""What a patient is asked by personal link or on the clinic tablet: the one definition that the invitation, the
reminders, the landing page, the questionnaire pages and the staff worklist share.

A follow-up asks the patient, through a link, the instruments that
- the patient answers (the clinician's HHS examination is staff work, shown on the worklist, never emailed);
- are not answered yet;
- have patient-facing wording loaded at the site in the patient's language (the registry's own content labels
  are item summaries, not questions: "ODI pain intensity: first statement" cannot be answered). An instrument
  without wording stays on the worklist for entry by phone, on paper or in the clinic;
and only while the follow-up's window is open on the site's calendar.

Long instruments are asked one printed section a page (KOOS: one subscale a page); the time estimate is counted
from the items asked.
"""

from __future__ import annotations

import functools
import math
import zoneinfo
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.utils.translation import gettext, gettext_lazy, pgettext

import scoring
from outcomes.models import HHS_EXAM, FollowUp, FollowUpStatus, InstrumentWording, Response, Timepoint
from registry.models import Site

LIVE = (FollowUpStatus.OPEN, FollowUpStatus.PARTIAL)
# Instruments with more items than this are asked one section a page.
SPLIT_ABOVE_ITEMS = 12
# Seconds a patient takes per item, for the time estimate (a 42-item KOOS: about 8 minutes, as its users report
# 5 to 10).
SECONDS_PER_ITEM = 12
# Which instrument's wording a form uses (a derived instrument or the HHS exam use their source's).
WORDING_SOURCE = {
    HHS_EXAM: "hhs",
    **{i: d.derived_from for i, d in scoring.INSTRUMENTS.items() if d.derived_from},
}


def wording_instrument(instrument: str) -> str:
    return WORDING_SOURCE.get(instrument, instrument)


def site_zone(site: Site) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(site.time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def local_date(site: Site, now: datetime) -> date:
    return now.astimezone(site_zone(site)).date()


def earliest_local_date(now: datetime) -> date:
    """The earliest calendar date anywhere on Earth at `now` (UTC-12): a window that closed before it is closed
    at every site, whatever its time zone (a bound the database can use before the exact check per site)."""
    return (now - timedelta(hours=12)).date()


def link_expiry(site: Site, last_day: date) -> datetime:
    """A link works through the last day of its windows, on the site's calendar."""
    return datetime.combine(last_day + timedelta(days=1), time(0, 0), tzinfo=site_zone(site))


def window_open(fu: FollowUp, today: date) -> bool:
    return fu.status in LIVE and fu.window_opens <= today <= fu.window_closes


def patient_instruments(fu: FollowUp) -> list[str]:
    """What the patient answers at this follow-up (the HHS examination is the clinician's)."""
    return [i for i in fu.instruments if i != HHS_EXAM]


def worded_instruments(site_id: int, language: str) -> set[str]:
    """The instruments with patient-facing wording loaded at the site in this language (a file the engine no
    longer accepts does not count). The sender asks this every few messages: a file is validated once per
    version of its row, not on every call."""
    rows = InstrumentWording.objects.filter(site_id=site_id, language=language).values_list(
        "pk", "uploaded_at", "instrument"
    )
    return {instrument for pk, uploaded_at, instrument in rows if _wording_usable(pk, uploaded_at)}


def worded_by_language(site_id: int) -> dict[str, set[str]]:
    """worded_instruments for every language at once (one query): the patient pages' language switch."""
    rows = InstrumentWording.objects.filter(site_id=site_id).values_list("pk", "uploaded_at", "language", "instrument")
    out: dict[str, set[str]] = defaultdict(set)
    for pk, uploaded_at, language, instrument in rows:
        if _wording_usable(pk, uploaded_at):
            out[language].add(instrument)
    return out


@functools.lru_cache(maxsize=4096)
def _wording_usable(pk: int, uploaded_at: datetime) -> bool:
    content = InstrumentWording.objects.filter(pk=pk).values_list("content", flat=True).first()
    if content is None:
        return False
    try:
        scoring.load_wording(content)
    except scoring.ScoringError:
        return False
    return True


SHIPPED_LANGUAGES = frozenset(code for code, _name in settings.LANGUAGES)


def language_of(patient: Any) -> str:
    """The patient's preferred language if the registry ships it, else English."""
    identity = getattr(patient, "identity", None)
    language = getattr(identity, "preferred_language", None) or "en"
    return language if language in SHIPPED_LANGUAGES else "en"


def patient_language(fu: FollowUp) -> str:
    identity = getattr(fu.episode.patient, "identity", None)
    return getattr(identity, "preferred_language", None) or "en"


@dataclass(frozen=True)
class Asked:
    """What one follow-up asks of the patient now."""

    follow_up: FollowUp
    by_link: list[str]  # answerable by link, unanswered, window open
    unworded: list[str]  # the patient's to answer, unanswered, but no wording in their language: staff collect

    @property
    def staff_only(self) -> bool:
        return not self.by_link and bool(self.unworded)


def asked(follow_ups: Iterable[FollowUp], *, now: datetime) -> dict[int, Asked]:
    """For each follow-up (episode, patient, identity and site loaded), what it asks by link now, in a few
    queries for the lot."""
    fus = list(follow_ups)
    answered: dict[int, set[str]] = defaultdict(set)
    for fu_id, instrument in Response.objects.filter(follow_up__in=[f.pk for f in fus]).values_list(
        "follow_up_id", "instrument"
    ):
        answered[fu_id].add(instrument)
    wordings: dict[tuple[int, str], set[str]] = {}
    out = {}
    for fu in fus:
        site = fu.episode.patient.site
        key = (site.pk, patient_language(fu))
        if key not in wordings:
            wordings[key] = worded_instruments(*key)
        owed = [i for i in patient_instruments(fu) if i not in answered[fu.pk]]
        if not window_open(fu, local_date(site, now)):
            out[fu.pk] = Asked(fu, [], [])
            continue
        by_link = [i for i in owed if wording_instrument(i) in wordings[key]]
        out[fu.pk] = Asked(fu, by_link, [i for i in owed if i not in by_link])
    return out


def order_key(a: Asked) -> tuple:
    """The order pages list follow-ups in: the window closing first comes first, then by treatment."""
    fu = a.follow_up
    return (fu.window_closes, fu.episode.index_date, fu.episode_id, fu.window_opens)


# What a page is about ------------------------------------------------------------------------------------

TIMEPOINT_PHRASE = {
    Timepoint.BASELINE: gettext_lazy("before your treatment"),
    Timepoint.M3: gettext_lazy("3 months after your treatment"),
    Timepoint.M6: gettext_lazy("6 months after your treatment"),
    Timepoint.M12: gettext_lazy("12 months after your treatment"),
    Timepoint.M24: gettext_lazy("24 months after your treatment"),
}
# Staff pages say "the treatment", in the staff member's language.
STAFF_TIMEPOINT_PHRASE = {
    Timepoint.BASELINE: gettext_lazy("before the treatment"),
    Timepoint.M3: gettext_lazy("3 months after the treatment"),
    Timepoint.M6: gettext_lazy("6 months after the treatment"),
    Timepoint.M12: gettext_lazy("12 months after the treatment"),
    Timepoint.M24: gettext_lazy("24 months after the treatment"),
}
# Whole phrases, not pieces: the order of side and joint differs between languages.
BODY_PARTS = {
    ("left", "knee"): gettext_lazy("Left knee"),
    ("right", "knee"): gettext_lazy("Right knee"),
    ("left", "hip"): gettext_lazy("Left hip"),
    ("right", "hip"): gettext_lazy("Right hip"),
    ("midline", "knee"): gettext_lazy("Knee"),
    ("midline", "hip"): gettext_lazy("Hip"),
}


def body_part(fu: FollowUp) -> str:
    """'Left knee', 'Right hip', 'Back (L4-L5)', in the active language."""
    ep = fu.episode
    if ep.joint == "spine":
        if ep.spinal_level:
            return pgettext("body part", "Back (%(level)s)") % {"level": ep.spinal_level}
        return pgettext("body part", "Back")
    part = BODY_PARTS.get((ep.side, ep.joint))
    return str(part) if part is not None else f"{ep.get_side_display()} {ep.get_joint_display().lower()}"


def about(fu: FollowUp, *, for_staff: bool = False) -> str:
    """'Left knee, 12 months after your treatment' (for staff: '... after the treatment')."""
    if for_staff:
        when = STAFF_TIMEPOINT_PHRASE.get(fu.timepoint, fu.get_timepoint_display())
        return gettext("%(part)s, %(when)s") % {"part": body_part(fu), "when": when}
    phrase = TIMEPOINT_PHRASE.get(fu.timepoint, fu.get_timepoint_display())
    return gettext("%(part)s, %(when)s") % {"part": body_part(fu), "when": phrase}


# Pages -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    follow_up: FollowUp
    instrument: str
    section: str | None  # the printed section asked on this page; None: the whole instrument
    item_codes: tuple[str, ...]
    part: int  # 1-based part of the instrument
    parts: int


def items_asked(instrument: str) -> list[scoring.Item]:
    """The items a respondent fills in: the patient part of the HHS for mHHS, the clinician part for hhs_exam."""
    definition = scoring.get_instrument("hhs" if instrument == HHS_EXAM else instrument)
    if instrument == HHS_EXAM:
        return [i for i in definition.items if i.respondent == "clinician"]
    if instrument == "mhhs":
        return [i for i in definition.items if i.respondent == "patient"]
    return list(definition.items)


def instrument_pages(fu: FollowUp, instrument: str) -> list[Page]:
    codes = [i.code for i in items_asked(instrument)]
    definition = scoring.get_instrument(instrument)
    if len(codes) <= SPLIT_ABOVE_ITEMS or len(definition.sections) < 2:
        return [Page(fu, instrument, None, tuple(codes), 1, 1)]
    sections = [s for s in definition.sections if any(c in codes for c in s.item_codes)]
    return [
        Page(fu, instrument, s.code, tuple(c for c in s.item_codes if c in codes), n, len(sections))
        for n, s in enumerate(sections, start=1)
    ]


def pages_for(asks: Iterable[Asked]) -> list[Page]:
    return [page for a in asks for instrument in a.by_link for page in instrument_pages(a.follow_up, instrument)]


def minutes_for(pages: Iterable[Page]) -> int:
    items = sum(len(p.item_codes) for p in pages)
    return max(1, math.ceil(items * SECONDS_PER_ITEM / 60))
