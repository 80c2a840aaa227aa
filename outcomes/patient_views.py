"""The patient questionnaire, opened from the emailed link or handed over on the clinic tablet. No account: the
link's token (or the tablet session staff started) is the key.

The first request exchanges the token for a session and redirects, so the token appears in one URL only and
never in the pages' own links, forms or Referer headers. Every failure to open a link (unknown, expired,
tampered, another follow-up's) gets the same neutral page with the same status, saying nothing about anyone.

What is asked comes from outcomes.asking (the same list the email counted): every page names the joint and the
timepoint it is about, long instruments come one section a page, answers are saved page by page (stop and come
back), a summary lists them, then they are submitted through the same service as staff entry. A window that
closes while the patient is halfway keeps what was answered and says so. A tablet session ends when the patient
sends, after a few idle minutes, or when staff end it, and then shows a screen that names nobody.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from outcomes import asking, consent, contact, services
from outcomes.dashboards import patient_charts
from outcomes.forms import InstrumentForm
from outcomes.models import AccessToken, Draft, FollowUp, Mode, TokenChannel
from registry import clock
from registry.client_ip import client_ip
from registry.models import ConsentDecision, ConsentDocument

SESSION_KEY = "patient_token"
BIRTH_KEY = "patient_birth_ok"
TABLET_KEY = "patient_tablet"
BIRTH_ATTEMPTS = 5
INSTRUMENT_TITLES = {
    "koos": gettext_lazy("Knee questionnaire"),
    "hoos": gettext_lazy("Hip questionnaire"),
    "womac": gettext_lazy("Joint questionnaire"),
    "mhhs": gettext_lazy("Pain and walking"),
    "odi": gettext_lazy("Back pain and daily life"),
    "vas": gettext_lazy("Pain in the last week"),
    "nrs": gettext_lazy("Pain in the last week"),
    "koos_jr": gettext_lazy("Knee questionnaire"),
    "koos12": gettext_lazy("Knee questionnaire"),
    "hoos_jr": gettext_lazy("Hip questionnaire"),
    "promis10": gettext_lazy("Your health in general"),
    "ikdc": gettext_lazy("Knee symptoms and activities"),
    "lysholm": gettext_lazy("Knee symptoms and activities"),
    "tegner": gettext_lazy("Your activity level"),
    "eq5d5l": gettext_lazy("Your health today"),
}


def patient_page(view: Callable) -> Callable:
    """Rate-limited per address, never cached, never sending a Referer, never indexed."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        # The patient's language (a view that finds the patient by a token in the URL activates theirs itself).
        with translation.override(_page_language(request)):
            if _over_limit(request):
                response = render(request, "outcomes/patient/limited.html", status=429)
                response["Retry-After"] = "60"
            else:
                response = view(request, *args, **kwargs)
            response["Content-Language"] = translation.get_language()
        response["Referrer-Policy"] = "no-referrer"
        response["Cache-Control"] = "no-store"
        response["X-Robots-Tag"] = "noindex, nofollow"
        return response

    wrapper.csrf_token_only = True  # type: ignore[attr-defined]  # see project.middleware
    return wrapper


def _page_language(request: HttpRequest) -> str:
    """The session's patient's preferred language; without one (an unknown or expired link), the browser's, among
    the shipped languages, else English."""
    pk = request.session.get(SESSION_KEY)
    if pk:
        preferred = (
            AccessToken.objects.filter(pk=pk).values_list("patient__identity__preferred_language", flat=True).first()
        )
        if preferred in asking.SHIPPED_LANGUAGES:
            return preferred
    return translation.get_language_from_request(request)


def _languages_offered(token: AccessToken) -> list[tuple[str, str]]:
    """The languages the patient may switch to: those the site has wording in for everything the link asks now
    (a switch never loses a questionnaire), and always the current one."""
    current = asking.language_of(token.patient)
    needed = {i for a in _asks(token) for i in a.by_link}
    worded = asking.worded_by_language(token.patient.site_id) if needed else {}
    return [
        (code, name)
        for code, name in settings.LANGUAGES
        if code == current or (needed and needed <= worded.get(code, set()))
    ]


def _over_limit(request: HttpRequest) -> bool:
    # Per client address, the real one behind the proxies (registry.client_ip): keyed on the proxy's, one
    # patient's typos would slow every patient and a guesser would never be.
    key = f"patient-rl:{client_ip(request) or '-'}:{int(time.time() // 60)}"
    if cache.add(key, 1, 90):
        return False
    try:
        return cache.incr(key) > settings.PATIENT_RATE_LIMIT
    except ValueError:  # expired between add and incr
        cache.set(key, 1, 90)
        return False


def _neutral(request: HttpRequest) -> HttpResponse:
    return render(request, "outcomes/patient/neutral.html", status=404)


def _live_token(token: AccessToken | None) -> AccessToken | None:
    if token is None or token.expires_at <= clock.now() or token.ended_at is not None:
        return None
    return token


class _Session:
    """The session's token, and what became of it."""

    def __init__(self, request: HttpRequest) -> None:
        pk = request.session.get(SESSION_KEY)
        self.tablet = bool(request.session.get(TABLET_KEY))
        self.stored = (
            AccessToken.objects.select_related("patient__site", "patient__identity", "started_by").filter(pk=pk).first()
            if pk
            else None
        )
        now = clock.now()
        if self.stored is not None and self.stored.channel == TokenChannel.TABLET:
            if self.stored.ended_at is None and services.tablet_idle(self.stored, now):
                _tablet_end(self.stored, now)
            elif self.stored.ended_at is None:
                AccessToken.objects.filter(pk=self.stored.pk).update(last_seen_at=now)
        self.token = _live_token(self.stored)

    @property
    def tablet_ended(self) -> bool:
        return self.tablet and self.token is None

    @property
    def link_expired(self) -> bool:
        """The patient opened a link that has since expired (its last window closed)."""
        return not self.tablet and self.stored is not None and self.token is None


def _no_session(request: HttpRequest, session: _Session) -> HttpResponse:
    if session.tablet_ended:
        request.session.flush()
        return render(request, "outcomes/patient/tablet_ended.html", status=410)
    if session.link_expired:
        kept = _settle(session.stored) if session.stored else []
        return render(
            request,
            "outcomes/patient/closed.html",
            {"site": session.stored.patient.site, "closed": kept, "more": False},
            status=410,
        )
    return _neutral(request)


def _tablet_end(token: AccessToken, now: Any) -> None:
    """End a clinic tablet session: what the patient answered but did not send is kept."""
    AccessToken.objects.filter(pk=token.pk, ended_at__isnull=True).update(ended_at=now)
    token.ended_at = now
    services.drafts_flush(drafts=list(Draft.objects.filter(token=token)), why="the tablet session ended")


def _asks(token: AccessToken) -> list[asking.Asked]:
    """What the patient still owes through this link now, in a stable order (by treatment, then timepoint)."""
    follow_ups = token.follow_ups.select_related("episode__patient__site", "episode__patient__identity").order_by(
        "episode__index_date", "episode_id", "window_opens"
    )
    return sorted((a for a in asking.asked(follow_ups, now=clock.now()).values() if a.by_link), key=asking.order_key)


def _pages(token: AccessToken) -> list[asking.Page]:
    return asking.pages_for(_asks(token))


def _settle(token: AccessToken) -> list[str]:
    """Drafts of follow-ups that no longer ask anything by link (the window closed at the site) are kept as
    answers. Returns what each was about, for the page that says so."""
    asking_now = {a.follow_up.pk for a in _asks(token)} if _live_token(token) else set()
    drafts = Draft.objects.filter(token=token).select_related("follow_up__episode", "token__patient__identity")
    stale = [d for d in drafts if d.follow_up_id not in asking_now]
    if not stale:
        return []
    kept = services.drafts_flush(drafts=stale, why="the window closed before they were sent")
    return sorted({asking.about(fu) for fu in kept})


SENT_LINKS = [TokenChannel.EMAIL, TokenChannel.SMS]  # links a patient was sent (a tablet's live in its session)


def _title(page: asking.Page) -> str:
    return str(INSTRUMENT_TITLES.get(page.instrument, page.instrument))


@patient_page
@require_http_methods(["GET"])
def start(request: HttpRequest, token: str) -> HttpResponse:
    found = AccessToken.objects.filter(token_hash=contact.token_hash(token), channel__in=SENT_LINKS).first()
    found = _live_token(found)
    if found is None:
        return _neutral(request)
    translation.activate(asking.language_of(found.patient))
    request.session.cycle_key()
    request.session[SESSION_KEY] = found.pk
    request.session[BIRTH_KEY] = False
    request.session[TABLET_KEY] = False
    return HttpResponseRedirect(reverse("outcomes:patient_questionnaire"), status=303)


def _context(session: _Session, **extra: Any) -> dict[str, Any]:
    token = session.token
    return {
        "site": token.patient.site if token else None,
        "tablet": session.tablet,
        "idle_seconds": int(services.TABLET_IDLE.total_seconds()),
        "languages": _languages_offered(token) if token else [],
        **extra,
    }


def _birth_ok(request: HttpRequest, session: _Session) -> bool:
    token = session.token
    if session.tablet or token is None:
        return True  # staff identified the patient in the clinic
    return not contact.settings_for(token.patient.site).confirm_birth_year or bool(request.session.get(BIRTH_KEY))


@patient_page
@require_http_methods(["GET", "POST"])
def questionnaire(request: HttpRequest) -> HttpResponse:
    session = _Session(request)
    token = session.token
    if token is None:
        return _no_session(request, session)
    site = token.patient.site
    if not _birth_ok(request, session):
        return _birth_year(request, token)
    if token.patient.consent_pending:
        return HttpResponseRedirect(reverse("outcomes:patient_consent"), status=303)
    closed = _settle(token)
    asks = _asks(token)
    pages = asking.pages_for(asks)
    if closed:
        return render(
            request,
            "outcomes/patient/closed.html",
            _context(session, closed=closed, more=bool(pages), first=reverse("outcomes:patient_questionnaire")),
        )
    if not pages and not Draft.objects.filter(token=token).exists():
        if session.tablet:
            return _tablet_finish(request, token)
        # Reopening a link shows no scores: a forwarded or shared link must not show anyone's history.
        return render(request, "outcomes/patient/done.html", {"site": site})
    questionnaires = [(str(INSTRUMENT_TITLES.get(i, i)), asking.about(a.follow_up)) for a in asks for i in a.by_link]
    return render(
        request,
        "outcomes/patient/start.html",
        _context(
            session,
            questionnaires=questionnaires,
            before_only=all(a.follow_up.timepoint == "baseline" for a in asks),
            some_before=any(a.follow_up.timepoint == "baseline" for a in asks),
            count=len(questionnaires),
            pages_count=len(pages),
            minutes=asking.minutes_for(pages),
            first=reverse("outcomes:patient_page", args=[1]),
        ),
    )


CONSENT_CHOICES = [
    (ConsentDecision.Choice.AGREE, gettext_lazy("Yes, I take part")),
    (ConsentDecision.Choice.FOLLOW_UP_ONLY, gettext_lazy("Yes to follow-up, but not to research use")),
    (ConsentDecision.Choice.DECLINE, gettext_lazy("No, I do not take part")),
]
CONSENT_MEANS = {
    ConsentDecision.Choice.AGREE: gettext_lazy(
        "The clinic sends you short questionnaires after your treatment, and your answers may be used for research "
        "without your name."
    ),
    ConsentDecision.Choice.FOLLOW_UP_ONLY: gettext_lazy(
        "The clinic sends you short questionnaires after your treatment. Your answers are not used for research."
    ),
    ConsentDecision.Choice.DECLINE: gettext_lazy("We will not send you anything more about the registry."),
}


@patient_page
@require_http_methods(["GET", "POST"])
def consent_page(request: HttpRequest) -> HttpResponse:
    """The site's consent document, asked before anything else while the patient's consent is not yet recorded:
    they agree, agree to follow-up but not research use, or decline."""
    session = _Session(request)
    token = session.token
    if token is None:
        return _no_session(request, session)
    if not _birth_ok(request, session) or not token.patient.consent_pending:
        return HttpResponseRedirect(reverse("outcomes:patient_questionnaire"), status=303)
    document = ConsentDocument.for_patient(token.patient, translation.get_language())
    if document is None:
        # Not contactable without one (outcomes.contact); a tablet session staff started can still meet this.
        return render(request, "outcomes/patient/consent_missing.html", _context(session), status=409)
    error = None
    if request.method == "POST":
        chosen = request.POST.get("decision", "")
        if chosen not in dict(CONSENT_CHOICES):
            error = _("Please choose one of the three answers.")
        else:
            try:
                consent.consent_answer(token=token, document=document, decision=chosen)
            except consent.ConsentRefused:
                return HttpResponseRedirect(reverse("outcomes:patient_questionnaire"), status=303)
            if chosen == ConsentDecision.Choice.DECLINE:
                request.session.flush()
                return render(request, "outcomes/patient/consent_declined.html", {"site": token.patient.site})
            return HttpResponseRedirect(reverse("outcomes:patient_questionnaire"), status=303)
    choices = [(value, label, CONSENT_MEANS[value]) for value, label in CONSENT_CHOICES]
    return render(
        request,
        "outcomes/patient/consent.html",
        _context(session, document=document, choices=choices, error=error, chosen=request.POST.get("decision", "")),
    )  # a missing answer is shown on the page again, as the questionnaire pages show theirs


def _birth_year(request: HttpRequest, token: AccessToken) -> HttpResponse:
    site = token.patient.site
    error = None
    if token.locked_until and token.locked_until > clock.now():
        return render(request, "outcomes/patient/locked.html", {"site": site}, status=403)
    if request.method == "POST":
        given = request.POST.get("birth_year", "").strip()
        born = token.patient.identity.date_of_birth.year
        if given.isdigit() and int(given) == born:
            request.session[BIRTH_KEY] = True
            AccessToken.objects.filter(pk=token.pk).update(birth_year_failures=0)
            return HttpResponseRedirect(reverse("outcomes:patient_questionnaire"), status=303)
        failures = token.birth_year_failures + 1
        locked = clock.now() + timedelta(minutes=15) if failures >= BIRTH_ATTEMPTS else None
        AccessToken.objects.filter(pk=token.pk).update(
            birth_year_failures=0 if locked else failures, locked_until=locked
        )
        if locked:
            return render(request, "outcomes/patient/locked.html", {"site": site}, status=403)
        error = _("That is not the year we have. Please try again.")
    return render(request, "outcomes/patient/birth_year.html", {"site": site, "error": error})


def _draft_done(draft: Draft | None, page: asking.Page) -> bool:
    return draft is not None and page.part in (draft.pages_done or [])


@patient_page
@require_http_methods(["GET", "POST"])
def page(request: HttpRequest, number: int) -> HttpResponse:
    session = _Session(request)
    token = session.token
    if token is None:
        return _no_session(request, session)
    if not _birth_ok(request, session) or token.patient.consent_pending:
        return HttpResponseRedirect(reverse("outcomes:patient_questionnaire"), status=303)  # asks it first
    asks = _asks(token)
    if Draft.objects.filter(token=token).exclude(follow_up__in=[a.follow_up.pk for a in asks]).exists():
        return HttpResponseRedirect(reverse("outcomes:patient_questionnaire"), status=303)  # a window closed
    pages = asking.pages_for(asks)
    if not 1 <= number <= len(pages):
        return HttpResponseRedirect(reverse("outcomes:patient_summary"), status=303)
    current = pages[number - 1]
    language = getattr(token.patient.identity, "preferred_language", "en")
    wording = services.wording_for(site=token.patient.site, instrument=current.instrument, language=language)
    draft = Draft.objects.filter(token=token, follow_up=current.follow_up, instrument=current.instrument).first()
    form = InstrumentForm(
        request.POST or None,
        instrument=current.instrument,
        wording=wording,
        require_all=True,
        only=current.item_codes,
        for_patient=True,
    )
    if request.method == "GET" and draft:
        form.initial_from(draft.answers)
    if request.method == "POST" and form.is_valid():
        merged = {**(draft.answers if draft else {}), **form.answers()}
        try:
            answers = services.validate_response_answers(current.instrument, merged)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            done = sorted({*(draft.pages_done if draft else []), current.part})
            Draft.objects.update_or_create(
                token=token,
                follow_up=current.follow_up,
                instrument=current.instrument,
                defaults={"answers": answers, "pages_done": done},
            )
            following = "outcomes:patient_page" if number < len(pages) else "outcomes:patient_summary"
            args = [number + 1] if number < len(pages) else []
            return HttpResponseRedirect(reverse(following, args=args), status=303)
    section = None
    if current.section:
        section = next(s for s in form.definition.sections if s.code == current.section)
    section_wording = wording.sections.get(current.section) if (wording and current.section) else None
    return render(
        request,
        "outcomes/patient/page.html",
        _context(
            session,
            form=form,
            page=current,
            title=_title(current),
            about=asking.about(current.follow_up),
            number=number,
            total=len(pages),
            # The instrument's instructions open its first page; later parts repeat their section's (which
            # says the period again), so no page shows two near-identical lines.
            instructions=wording.instructions if (wording and current.part == 1) else "",
            section_title=(section_wording.title if section_wording else (section.label if section else "")),
            section_instructions=section_wording.instructions if (section_wording and current.part > 1) else "",
            back=reverse("outcomes:patient_page", args=[number - 1]) if number > 1 else None,
        ),
    )


@patient_page
@require_http_methods(["GET", "POST"])
def summary(request: HttpRequest) -> HttpResponse:
    session = _Session(request)
    token = session.token
    if token is None:
        return _no_session(request, session)
    if not _birth_ok(request, session) or token.patient.consent_pending:
        return HttpResponseRedirect(reverse("outcomes:patient_questionnaire"), status=303)  # asks it first
    if _settle(token):
        return HttpResponseRedirect(reverse("outcomes:patient_questionnaire"), status=303)  # says what closed
    pages = _pages(token)
    drafts = {(d.follow_up_id, d.instrument): d for d in Draft.objects.filter(token=token)}
    rows: list[dict[str, Any]] = []  # one per questionnaire: its first page, and the first page still to answer
    for n, p in enumerate(pages, start=1):
        done = _draft_done(drafts.get((p.follow_up.pk, p.instrument)), p)
        if p.part == 1:
            rows.append({"first": n, "title": _title(p), "about": asking.about(p.follow_up), "done": True, "todo": n})
        if not done and rows[-1]["done"]:
            rows[-1]["done"], rows[-1]["todo"] = False, n
    missing = [r for r in rows if not r["done"]]
    error = None
    if request.method == "POST":
        if missing:
            error = _("Some pages are not answered yet.")
        else:
            try:
                _submit(token, drafts)
            except ValidationError as exc:
                error = " ".join(exc.messages)
            else:
                if session.tablet:
                    return _tablet_finish(request, token)
                return HttpResponseRedirect(reverse("outcomes:patient_thanks"), status=303)
    if not rows and not drafts:
        if session.tablet:
            return _tablet_finish(request, token)
        return HttpResponseRedirect(reverse("outcomes:patient_thanks"), status=303)
    return render(request, "outcomes/patient/summary.html", _context(session, rows=rows, missing=missing, error=error))


@transaction.atomic
def _submit(token: AccessToken, drafts: dict) -> None:
    """All pages in one transaction: a double submit finds the responses stored and changes nothing."""
    language = getattr(token.patient.identity, "preferred_language", "en")
    tablet = token.channel == TokenChannel.TABLET
    asking_now = {a.follow_up.pk for a in _asks(token)}
    for (fu_id, instrument), draft in drafts.items():
        if fu_id not in asking_now:
            continue  # closed meanwhile: _settle keeps it
        services.response_submit(
            follow_up=FollowUp(pk=fu_id),
            instrument=instrument,
            answers=draft.answers,
            by=None,
            mode=Mode.TABLET if tablet else Mode.WEB,
            language=language,
            started_at=draft.started_at,
            handed_over_by=token.started_by if tablet else None,
        )
    Draft.objects.filter(token=token, follow_up__in=asking_now).delete()


def _tablet_finish(request: HttpRequest, token: AccessToken) -> HttpResponse:
    """The patient sent their answers on the clinic tablet: the session ends, the tablet shows nobody."""
    _tablet_end(token, clock.now())
    request.session.flush()
    return HttpResponseRedirect(reverse("outcomes:patient_tablet_done"), status=303)


@patient_page
@require_http_methods(["GET"])
def tablet_done(request: HttpRequest) -> HttpResponse:
    return render(request, "outcomes/patient/tablet_done.html")


@patient_page
@require_http_methods(["GET", "POST"])
def tablet_end(request: HttpRequest) -> HttpResponse:
    """The tablet's idle timer (outcomes/static/outcomes/tablet.js) or a 'hand back' button lands here."""
    session = _Session(request)
    if session.tablet and session.stored is not None and session.stored.ended_at is None:
        _tablet_end(session.stored, clock.now())
    if session.tablet:
        request.session.flush()
    return render(request, "outcomes/patient/tablet_ended.html", status=200 if session.tablet else 410)


@patient_page
@require_http_methods(["GET"])
def thanks(request: HttpRequest) -> HttpResponse:
    session = _Session(request)
    token = session.token
    if token is None:
        return _no_session(request, session)
    return render(request, "outcomes/patient/thanks.html", {"site": token.patient.site, **_chart_context(token)})


def _chart_context(token: AccessToken) -> dict[str, Any]:
    """The patient's own chart (outcomes.dashboards), unless the site switched it off. Only this token's patient."""

    if not contact.settings_for(token.patient.site).show_patient_chart:
        return {}
    return {"patient_charts": patient_charts(patient=token.patient)}


# An email's "stop emails" link keeps working this long after its questionnaire link expires (a patient reads
# old mail; unsubscribe links are expected to work for at least 30 days after sending), then it is dead too.
OPT_OUT_GRACE = timedelta(days=60)


@patient_page
@csrf_exempt  # RFC 8058 one-click unsubscribe posts without a form; the token itself authorizes
@require_http_methods(["GET", "POST"])
def optout(request: HttpRequest, token: str) -> HttpResponse:
    found = (
        AccessToken.objects.select_related("patient__site")
        .filter(token_hash=contact.token_hash(token), channel__in=SENT_LINKS)
        .first()
    )
    if found is None or found.expires_at + OPT_OUT_GRACE < clock.now():
        return _neutral(request)
    translation.activate(asking.language_of(found.patient))
    if request.method == "POST":
        contact.patient_opt_out(patient=found.patient, source="link")
        return render(request, "outcomes/patient/optout_done.html", {"site": found.patient.site})
    return render(request, "outcomes/patient/optout.html", {"site": found.patient.site})


@patient_page
@require_http_methods(["GET", "POST"])
def withdraw(request: HttpRequest, token: str) -> HttpResponse:
    """Every message's "leave the registry" link: what withdrawing means at this site, then a button. All
    follow-up and contact stop, as when staff record a withdrawal, and the site's withdrawal policy applies."""
    found = (
        AccessToken.objects.select_related("patient__site", "patient__identity")
        .filter(token_hash=contact.token_hash(token), channel__in=SENT_LINKS)
        .first()
    )
    if found is None or found.expires_at + OPT_OUT_GRACE < clock.now():
        return _neutral(request)
    patient, site = found.patient, found.patient.site
    translation.activate(asking.language_of(patient))
    if patient.is_withdrawn:
        return render(request, "outcomes/patient/withdrawn.html", {"site": site, "anonymise": False, "already": True})
    anonymise = site.withdrawal_policy == "anonymise"
    if request.method == "POST":
        consent.patient_withdraw(token=found, language=translation.get_language())
        return render(request, "outcomes/patient/withdrawn.html", {"site": site, "anonymise": anonymise})
    return render(request, "outcomes/patient/withdraw.html", {"site": site, "anonymise": anonymise})


@patient_page
@require_http_methods(["POST"])
def language(request: HttpRequest) -> HttpResponse:
    """The patient switches language: kept as their preference (with history), so emails follow it too."""
    session = _Session(request)
    if session.token is None:
        return _no_session(request, session)
    chosen = request.POST.get("language", "")
    if chosen not in dict(_languages_offered(session.token)):
        return render(request, "outcomes/patient/language_refused.html", _context(session), status=400)
    identity = session.token.patient.identity
    if identity.preferred_language != chosen:
        identity.preferred_language = chosen
        identity._change_reason = "language chosen by the patient on the questionnaire page"
        identity.save()
    translation.activate(chosen)
    back = request.POST.get("next", "")
    if not (back.startswith("/p/q/") and url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()})):
        back = reverse("outcomes:patient_questionnaire")
    return HttpResponseRedirect(back, status=303)
