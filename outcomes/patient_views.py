"""The patient questionnaire, opened from the emailed link. No account: the link's token is the key.

The first request exchanges the token for a session and redirects, so the token appears in one URL only and
never in the pages' own links, forms or Referer headers. Every failure to open a link (unknown, expired,
tampered, another follow-up's) gets the same neutral page with the same status, saying nothing about anyone.
One instrument per page, answers saved per page (stop and come back), a summary, then the answers are
submitted through the same service as staff entry.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
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
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from outcomes import contact, services
from outcomes.forms import InstrumentForm
from outcomes.models import HHS_EXAM, AccessToken, Draft, FollowUp, FollowUpStatus, Mode
from registry import clock

SESSION_KEY = "patient_token"
BIRTH_KEY = "patient_birth_ok"
BIRTH_ATTEMPTS = 5
INSTRUMENT_TITLES = {
    "koos": _("Knee questionnaire"),
    "hoos": _("Hip questionnaire"),
    "womac": _("Joint questionnaire"),
    "mhhs": _("Pain and walking"),
    "odi": _("Back pain and daily life"),
    "vas": _("Pain today"),
    "nrs": _("Pain today"),
}


def patient_page(view: Callable) -> Callable:
    """Rate-limited per address, never cached, never sending a Referer, never indexed."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if _over_limit(request):
            response = render(request, "outcomes/patient/limited.html", status=429)
            response["Retry-After"] = "60"
        else:
            response = view(request, *args, **kwargs)
        response["Referrer-Policy"] = "no-referrer"
        response["Cache-Control"] = "no-store"
        response["X-Robots-Tag"] = "noindex, nofollow"
        return response

    wrapper.csrf_token_only = True  # type: ignore[attr-defined]  # see registry.middleware
    return wrapper


def _over_limit(request: HttpRequest) -> bool:
    key = f"patient-rl:{request.META.get('REMOTE_ADDR', '-')}:{int(time.time() // 60)}"
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
    if token is None or token.expires_at <= clock.now():
        return None
    return token


def _session_token(request: HttpRequest) -> AccessToken | None:
    pk = request.session.get(SESSION_KEY)
    token = (
        AccessToken.objects.select_related("patient__site", "patient__identity").filter(pk=pk).first() if pk else None
    )
    return _live_token(token)


@dataclass
class Page:
    follow_up: FollowUp
    instrument: str

    @property
    def title(self) -> str:
        return str(INSTRUMENT_TITLES.get(self.instrument, self.instrument))


def _pages(token: AccessToken) -> list[Page]:
    """What the patient still owes through this link, in a stable order."""
    pages = []
    follow_ups = (
        token.follow_ups.filter(status__in=contact.LIVE)
        .select_related("episode")
        .order_by("episode__index_date", "episode_id", "window_opens")
    )
    for fu in follow_ups:
        answered = set(fu.responses.values_list("instrument", flat=True))
        for instrument in fu.instruments:
            if instrument != HHS_EXAM and instrument not in answered:
                pages.append(Page(fu, instrument))
    return pages


def _where(fu: FollowUp) -> str:
    ep = fu.episode
    if ep.joint == "spine":
        return _("your back")
    return _("your %(side)s %(joint)s") % {
        "side": ep.get_side_display().lower(),
        "joint": ep.get_joint_display().lower(),
    }


@patient_page
@require_http_methods(["GET"])
def start(request: HttpRequest, token: str) -> HttpResponse:
    found = AccessToken.objects.filter(token_hash=contact.token_hash(token)).first()
    found = _live_token(found)
    if found is None:
        return _neutral(request)
    request.session.cycle_key()
    request.session[SESSION_KEY] = found.pk
    request.session[BIRTH_KEY] = False
    return HttpResponseRedirect(reverse("outcomes:patient_questionnaire"), status=303)


@patient_page
@require_http_methods(["GET", "POST"])
def questionnaire(request: HttpRequest) -> HttpResponse:
    token = _session_token(request)
    if token is None:
        return _neutral(request)
    site = token.patient.site
    policy = contact.settings_for(site)
    if policy.confirm_birth_year and not request.session.get(BIRTH_KEY):
        return _birth_year(request, token)
    pages = _pages(token)
    if not pages and not Draft.objects.filter(token=token).exists():
        return render(request, "outcomes/patient/done.html", {"site": site, **_chart_context(token)})
    return render(
        request,
        "outcomes/patient/start.html",
        {
            "site": site,
            "pages": pages,
            "count": len(pages),
            "where": ", ".join(sorted({_where(p.follow_up) for p in pages})),
            "first": reverse("outcomes:patient_page", args=[1]),
        },
    )


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


@patient_page
@require_http_methods(["GET", "POST"])
def page(request: HttpRequest, number: int) -> HttpResponse:
    token = _session_token(request)
    if token is None:
        return _neutral(request)
    if contact.settings_for(token.patient.site).confirm_birth_year and not request.session.get(BIRTH_KEY):
        return HttpResponseRedirect(reverse("outcomes:patient_questionnaire"), status=303)
    pages = _pages(token)
    if not 1 <= number <= len(pages):
        return HttpResponseRedirect(reverse("outcomes:patient_summary"), status=303)
    current = pages[number - 1]
    language = getattr(token.patient.identity, "preferred_language", "en")
    wording = services.wording_for(site=token.patient.site, instrument=current.instrument, language=language)
    draft = Draft.objects.filter(token=token, follow_up=current.follow_up, instrument=current.instrument).first()
    form = InstrumentForm(request.POST or None, instrument=current.instrument, wording=wording, require_all=True)
    if request.method == "GET" and draft:
        form.initial_from(draft.answers)
    if request.method == "POST" and form.is_valid():
        try:
            answers = services.validate_response_answers(current.instrument, form.answers())
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            Draft.objects.update_or_create(
                token=token, follow_up=current.follow_up, instrument=current.instrument, defaults={"answers": answers}
            )
            following = "outcomes:patient_page" if number < len(pages) else "outcomes:patient_summary"
            args = [number + 1] if number < len(pages) else []
            return HttpResponseRedirect(reverse(following, args=args), status=303)
    return render(
        request,
        "outcomes/patient/page.html",
        {
            "site": token.patient.site,
            "form": form,
            "page": current,
            "number": number,
            "total": len(pages),
            "where": _where(current.follow_up),
            "instrument": form.definition,
            "back": reverse("outcomes:patient_page", args=[number - 1]) if number > 1 else None,
        },
    )


@patient_page
@require_http_methods(["GET", "POST"])
def summary(request: HttpRequest) -> HttpResponse:
    token = _session_token(request)
    if token is None:
        return _neutral(request)
    pages = _pages(token)
    drafts = {(d.follow_up_id, d.instrument): d for d in Draft.objects.filter(token=token)}
    rows = [(i + 1, p, (p.follow_up.pk, p.instrument) in drafts, _where(p.follow_up)) for i, p in enumerate(pages)]
    missing = [n for n, _p, done, _w in rows if not done]
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
                return HttpResponseRedirect(reverse("outcomes:patient_thanks"), status=303)
    if not rows and not drafts:
        return HttpResponseRedirect(reverse("outcomes:patient_thanks"), status=303)
    return render(
        request,
        "outcomes/patient/summary.html",
        {
            "site": token.patient.site,
            "rows": rows,
            "missing": missing,
            "error": error,
        },
    )


@transaction.atomic
def _submit(token: AccessToken, drafts: dict) -> None:
    """All pages in one transaction: a double submit finds the responses stored and changes nothing."""
    language = getattr(token.patient.identity, "preferred_language", "en")
    for (fu_id, instrument), draft in drafts.items():
        fu = FollowUp.objects.get(pk=fu_id)
        if fu.status not in (FollowUpStatus.OPEN, FollowUpStatus.PARTIAL, FollowUpStatus.COMPLETED):
            continue
        services.response_submit(
            follow_up=fu,
            instrument=instrument,
            answers=draft.answers,
            by=None,
            mode=Mode.WEB,
            language=language,
            started_at=draft.started_at,
        )
    Draft.objects.filter(token=token).delete()


@patient_page
@require_http_methods(["GET"])
def thanks(request: HttpRequest) -> HttpResponse:
    token = _session_token(request)
    if token is None:
        return _neutral(request)
    return render(request, "outcomes/patient/thanks.html", {"site": token.patient.site, **_chart_context(token)})


def _chart_context(token: AccessToken) -> dict[str, Any]:
    """The patient's own chart (outcomes.dashboards), unless the site switched it off. Only this token's patient."""
    from outcomes.dashboards import patient_charts

    if not contact.settings_for(token.patient.site).show_patient_chart:
        return {}
    return {"patient_charts": patient_charts(patient=token.patient)}


@patient_page
@csrf_exempt  # RFC 8058 one-click unsubscribe posts without a form; the token itself authorizes
@require_http_methods(["GET", "POST"])
def optout(request: HttpRequest, token: str) -> HttpResponse:
    found = AccessToken.objects.select_related("patient__site").filter(token_hash=contact.token_hash(token)).first()
    if found is None:
        return _neutral(request)
    if request.method == "POST":
        contact.patient_opt_out(patient=found.patient, source="link")
        return render(request, "outcomes/patient/optout_done.html", {"site": found.patient.site})
    return render(request, "outcomes/patient/optout.html", {"site": found.patient.site})
