"""Staff admin for follow-up: outcome plans, follow-ups with their scores, the worklist, answer entry from
phone or paper, and the sites' validated wording files. Site scoping comes from registry.admin's mixin."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from django import forms
from django.conf import settings as django_settings
from django.contrib import admin, messages
from django.contrib.auth import logout
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F, OuterRef, Q, QuerySet, Subquery
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.utils.translation import gettext, ngettext, pgettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

import scoring
from outcomes import asking, contact, dispatcher, patient_views, score_words, services
from outcomes.charts import STAFF_TIMEPOINT_LABELS
from outcomes.checks import missing_wording
from outcomes.engine_words import staff
from outcomes.forms import EntryForm, unscorable_outputs
from outcomes.models import (
    HHS_EXAM,
    CallAttempt,
    CallOutcome,
    DoubleEntry,
    EmailOptOut,
    FollowUp,
    FollowUpSettings,
    FollowUpStatus,
    InstrumentWording,
    Message,
    MessageStatus,
    MissingCode,
    Mode,
    OutcomePlan,
    OutcomePlanItem,
    Response,
    Worklist,
    decode_missing,
)
from registry import clock
from registry.access import is_registry_admin, pk_or_404, sites_visible_to
from registry.admin import SiteScopedAdminMixin

INSTRUMENT_NAMES = {
    "hhs_exam": _("HHS examination"),
    "koos": "KOOS",
    "hoos": "HOOS",
    "womac": "WOMAC",
    "mhhs": "mHHS",
    "odi": "ODI",
    "vas": _("Pain VAS"),
    "nrs": _("Pain NRS"),
    "koos_jr": "KOOS JR",
    "koos12": "KOOS-12",
    "hoos_jr": "HOOS JR",
    "promis10": "PROMIS-10",
    "ikdc": "IKDC",
    "lysholm": "Lysholm",
    "tegner": "Tegner",
    "eq5d5l": "EQ-5D-5L",
}


def _name(instrument: str) -> str:
    return str(INSTRUMENT_NAMES.get(instrument, instrument))


def _names(instruments: list[str]) -> list[str]:
    return [_name(i) for i in instruments]


# Plans -----------------------------------------------------------------------------------------------------


class OutcomePlanItemInline(admin.TabularInline):
    model = OutcomePlanItem
    extra = 1


@admin.register(OutcomePlan)
class OutcomePlanAdmin(SiteScopedAdminMixin, SimpleHistoryAdmin):
    list_display = ["name", "joint", "site", "protocol", "active", "asked"]
    list_filter = ["joint", "active"]
    search_fields = ["name"]
    list_select_related = ["site", "protocol"]
    inlines = [OutcomePlanItemInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        qs = admin.ModelAdmin.get_queryset(self, request).prefetch_related("items")
        if is_registry_admin(request.user):
            return qs
        return qs.filter(Q(site__isnull=True) | Q(site__in=sites_visible_to(request.user)))

    @admin.display(description=_("instruments by timepoint"))
    def asked(self, obj: OutcomePlan) -> str:
        by_tp = services.plan_instruments(obj)
        return "; ".join(f"{STAFF_TIMEPOINT_LABELS.get(tp, tp)}: {', '.join(_names(v))}" for tp, v in by_tp.items())

    def has_add_permission(self, request: HttpRequest) -> bool:
        return is_registry_admin(request.user)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_registry_admin(request.user)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_registry_admin(request.user)


# Follow-ups ------------------------------------------------------------------------------------------------


def _scores_table(fu: FollowUp) -> str:
    """The scores in words (outcomes.score_words), grouped by instrument; keys only as a tooltip."""
    groups = score_words.groups_for(fu)
    if not groups:
        return gettext("No scores yet.")

    def rows(lines: list[score_words.ScoreLine]) -> str:
        return format_html_join(
            "",
            '<tr><td title="{}">{}</td><td class="{}"><strong>{}</strong></td><td>{}</td><td>{}</td></tr>',
            (
                (
                    line.key,
                    line.name,
                    # "75 of 100" stays whole; "not scored (too many items blank)" wraps on a phone.
                    "nowrap" if line.scored else "",
                    line.value,
                    line.direction,
                    format_html(
                        '{} <span class="{}">{}</span>{}',
                        line.change,
                        "crosses" if line.mcii_reached else "",
                        line.mcii,
                        format_html(
                            '{}<span class="{}">{}</span>',
                            format_html("<br>") if line.change else "",
                            "crosses" if line.pass_reached else "",
                            line.pass_state,
                        )
                        if line.pass_state
                        else "",
                    )
                    if line.change or line.pass_state
                    else "",
                )
                for line in lines
            ),
        )

    body = format_html_join(
        "",
        '<tbody><tr class="inst"><th colspan="4">{}{}</th></tr>{}{}</tbody>',
        (
            (
                g.title,
                format_html(" <small>— {}</small>", g.note) if g.note else "",
                rows(g.lines),
                format_html(
                    '<tr><td colspan="4"><details><summary>{}</summary>'
                    '<table class="scores-words">{}</table></details></td></tr>',
                    gettext("Other forms of these scores (%(n)s)") % {"n": len(g.other)},
                    rows(g.other),
                )
                if g.other
                else "",
            )
            for g in groups
        ),
    )
    return format_html(
        # In a box that scrolls sideways on a narrow screen, rather than the page cutting its last columns off.
        '<div class="scores-scroll"><table class="scores scores-words"><thead><tr><th>{}</th><th>{}</th><th>{}</th>'
        "<th>{}</th></tr></thead>{}</table></div>",
        pgettext("table heading", "score"),
        pgettext("table heading", "value"),
        gettext("which end is good"),
        gettext("since baseline; acceptable state"),
        body,
    )


class FollowUpBaseAdmin(SiteScopedAdminMixin, admin.ModelAdmin):
    show_full_result_count = False
    list_select_related = ["episode", "episode__patient", "episode__patient__site", "episode__patient__identity"]
    search_fields = ["episode__patient__registry_id", "episode__patient__identity__family_name"]
    readonly_fields = [
        "episode",
        "timepoint",
        "target_date",
        "window_opens",
        "window_closes",
        "status",
        "owed",
        "asked_how",
        "days_from_index",
        "completed_at",
        "enter_answers",
        "scores",
        "invited_at",
        "reminders_sent",
        "next_reminder_at",
        "call_list_since",
        "messages",
    ]
    fields = readonly_fields
    actions = ["resend_link"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # follow-ups are created by the schedule when an episode is saved

    @admin.action(description=_("Send the questionnaire link again"), permissions=["change"])
    def resend_link(self, request: HttpRequest, queryset: QuerySet) -> None:
        sent, refused = 0, []
        for fu in queryset:
            try:
                dispatcher.message_resend(follow_up=fu, by=request.user)
                sent += 1
            except ValueError as exc:
                refused.append(f"{fu}: {exc}")
        if sent:
            self.message_user(
                request,
                ngettext("%(n)s link queued to be sent again.", "%(n)s links queued to be sent again.", sent)
                % {"n": sent},
                messages.SUCCESS,
            )
        for line in refused:
            self.message_user(request, line, messages.WARNING)

    @admin.display(description=_("emails and texts"))
    def messages(self, obj: FollowUp) -> str:
        rows = Message.objects.filter(items__follow_up=obj).distinct().order_by("created_at")
        if not rows:
            return gettext("None yet.")
        return format_html_join(
            "",
            "<div>{}{}</div>",
            (
                (
                    gettext("%(when)s — %(kind)s by %(channel)s: %(status)s")
                    % {
                        "when": m.created_at.strftime("%Y-%m-%d %H:%M"),
                        "kind": m.get_kind_display(),
                        "channel": m.get_channel_display().lower(),
                        "status": m.get_status_display(),
                    },
                    f" ({m.last_error})" if m.last_error else "",
                )
                for m in rows
            ),
        )

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_registry_admin(request.user)

    @admin.display(description=_("patient"), ordering="episode__patient__registry_id")
    def patient(self, obj: FollowUp) -> str:
        return obj.episode.patient.registry_id

    @admin.display(description=_("joint"))
    def joint(self, obj: FollowUp) -> str:
        ep = obj.episode
        return f"{ep.get_joint_display()} {ep.spinal_level or ep.get_side_display()}".strip()

    @admin.display(description=_("days left"), ordering="window_closes")
    def days_left_display(self, obj: FollowUp) -> str:
        if obj.status in (FollowUpStatus.COMPLETED, FollowUpStatus.WITHDRAWN):
            return "—"
        today = services.site_today(obj.episode.patient.site)
        if today < obj.window_opens:
            days = (obj.window_opens - today).days
            return ngettext("opens in %(n)s day", "opens in %(n)s days", days) % {"n": days}
        left = (obj.window_closes - today).days
        if left < 0:
            return pgettext("window", "closed")
        if left == 0:
            return gettext("closes today")
        return ngettext("%(n)s day left", "%(n)s days left", left) % {"n": left}

    @admin.display(description=_("owed"))
    def owed(self, obj: FollowUp) -> str:
        done = {r.instrument for r in obj.responses.all()} if obj.pk else set()
        return ", ".join(f"{_name(i)}{' ✓' if i in done else ''}" for i in obj.instruments) or "—"

    @admin.display(description=_("who answers how"))
    def asked_how(self, obj: FollowUp) -> str:
        """By link (or tablet), collected by staff for want of wording, or the clinician's: what is left."""
        if obj.status not in asking.LIVE:
            return "—"
        fu = FollowUp.objects.select_related("episode__patient__site", "episode__patient__identity").get(pk=obj.pk)
        a = asking.asked([fu], now=clock.now())[fu.pk]
        done = {r.instrument for r in obj.responses.all()}
        exam = [i for i in obj.instruments if i == "hhs_exam" and i not in done]
        parts = []
        if a.by_link:
            parts.append(
                gettext("Patient, by link or clinic tablet: %(names)s") % {"names": ", ".join(_names(a.by_link))}
            )
            url = reverse("admin:outcomes_followup_tablet", args=[obj.pk])
            parts.append(
                format_html(
                    '<a class="button" href="{}">{}</a>', url, gettext("Hand the clinic tablet to the patient…")
                )
            )
        if a.unworded:
            parts.append(
                gettext("Patient, collected by staff (no patient wording loaded in %(language)s): %(names)s")
                % {"language": asking.patient_language(fu), "names": ", ".join(_names(a.unworded))}
            )
        if exam:
            parts.append(gettext("Clinician, at the visit: %(names)s") % {"names": ", ".join(_names(exam))})
        if not parts:
            return (
                gettext("Window not open today.")
                if not asking.window_open(fu, services.site_today(fu.episode.patient.site))
                else gettext("Nothing left.")
            )
        return format_html_join("", "<div>{}</div>", ((p,) for p in parts))

    @admin.display(description=_("enter answers"))
    def enter_answers(self, obj: FollowUp) -> str:
        if obj.status == FollowUpStatus.WITHDRAWN:
            return gettext("Consent withdrawn: nothing is recorded.")
        done = set(obj.responses.values_list("instrument", flat=True))
        return format_html_join(
            " · ",
            '<a href="{}">{}</a>',
            (
                (
                    reverse("admin:outcomes_followup_enter", args=[obj.pk, i]),
                    (gettext("Change %(instrument)s") if i in done else gettext("Enter %(instrument)s"))
                    % {"instrument": _name(i)},
                )
                for i in obj.instruments
            ),
        )

    @admin.display(description=_("scores"))
    def scores(self, obj: FollowUp) -> str:
        return _scores_table(obj)

    @admin.display(description=_("patient"), ordering="episode__patient__identity__family_name")
    def who(self, obj: FollowUp) -> str:
        identity = getattr(obj.episode.patient, "identity", None)
        return format_html(
            "{}<br><small>{}</small>", str(identity) if identity else "—", obj.episode.patient.registry_id
        )

    @admin.display(description=_("follow-up"), ordering="timepoint")
    def what(self, obj: FollowUp) -> str:
        return format_html("{}<br><small>{}</small>", asking.body_part(obj), obj.get_timepoint_display())

    @admin.display(description=pgettext_lazy("follow-up", "window"), ordering="window_closes")
    def window(self, obj: FollowUp) -> str:
        """How long is left (the list's default order), then the window's dates."""
        return format_html(
            '<span class="nowrap">{}</span><br><small>{} – {}</small>',
            self.days_left_display(obj) if obj.status in asking.LIVE or obj.status == FollowUpStatus.SCHEDULED else "",
            obj.window_opens.strftime("%y-%m-%d"),
            obj.window_closes.strftime("%y-%m-%d"),
        )


@admin.register(FollowUp)
class FollowUpAdmin(FollowUpBaseAdmin, SimpleHistoryAdmin):
    """The follow-up as a work screen: who to call and how, what is owed by whom, the messages, the call log
    (outcomes.services.call_log) and answer entry. Nothing on it is edited by hand, so it has no Save button;
    its status is derived, so its history has no revert."""

    change_form_template = "admin/outcomes/followup/change_form.html"
    # Compact, as the worklist: fits 1366 pixels beside the admin's sidebars.
    list_display = ["who", "what", "window", "status", "answered_day"]
    list_display_links = ["who"]
    list_filter = [
        "status",
        "timepoint",
        "episode__joint",
        ("episode__patient__site", admin.RelatedOnlyFieldListFilter),
    ]
    fieldsets = [
        (None, {"fields": ["episode", "timepoint", "status", "owed", "asked_how", "enter_answers", "scores"]}),
        (
            _("Emails and texts"),
            {"fields": ["messages", "invited_at", "reminders_sent", "next_reminder_at", "call_list_since"]},
        ),
        (
            _("Schedule"),
            {"fields": ["target_date", "window_opens", "window_closes", "days_from_index", "completed_at"]},
        ),
    ]

    fields = None  # the fieldsets above

    @admin.display(description=pgettext_lazy("column", "answered"), ordering="days_from_index")
    def answered_day(self, obj: FollowUp) -> str:
        if obj.days_from_index is None:
            return "—"
        return gettext("day %(n)s") % {"n": obj.days_from_index}

    def revert_disabled(self, request: HttpRequest, obj: Any = None) -> bool:
        return True  # statuses, windows and contact state follow from the schedule and the answers

    def changeform_view(
        self, request: HttpRequest, object_id: str | None = None, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        if request.method == "POST":
            return HttpResponseRedirect(request.path)  # nothing on this page is saved by a form
        fu = self._visible(request, object_id) if object_id else None
        extra = {
            **(extra_context or {}),
            "show_save": False,
            "show_save_and_continue": False,
            "show_save_and_add_another": False,
            "show_delete": False,
        }
        if fu is not None:
            extra.update(self._work_context(request, fu), title=gettext("Follow-up"))
        return super().changeform_view(request, object_id, form_url, extra)

    def _visible(self, request: HttpRequest, object_id: Any) -> FollowUp:
        fu = (
            self.get_queryset(request)
            .select_related("episode__patient__identity", "episode__patient__site")
            .filter(pk=pk_or_404(object_id))
            .first()
        )
        if fu is None:
            raise Http404(gettext("No such follow-up."))
        return fu

    def _work_context(self, request: HttpRequest, fu: FollowUp) -> dict[str, Any]:
        patient = fu.episode.patient
        identity = getattr(patient, "identity", None)
        opted_out = EmailOptOut.objects.filter(patient=patient).first()
        done = {r.instrument for r in fu.responses.all()}
        owed = [i for i in fu.instruments if i not in done]
        prefs = []
        if not patient.consent_email:
            prefs.append(gettext("no consent to email"))
        elif opted_out:
            prefs.append(gettext("asked for no emails (%(date)s)") % {"date": f"{opted_out.opted_out_at:%Y-%m-%d}"})
        elif identity and identity.email:
            prefs.append(pgettext("contact by", "email"))
        if identity and not identity.email:
            prefs.append(gettext("no email address"))
        return {
            "fu": fu,
            "body_part": asking.body_part(fu),
            "patient": patient,
            "identity": identity,
            "language": _language_name(identity.preferred_language) if identity else "",
            "contact_prefs": ", ".join(prefs) or "—",
            "owed_patient": _names([i for i in owed if i != HHS_EXAM]),
            "owed_clinician": _names([i for i in owed if i == HHS_EXAM]),
            "calls": list(fu.calls.select_related("by")[:20]),
            "call_outcomes": CallOutcome.choices,
            "can_call": fu.status in services.CALLABLE and request.user.has_perm("outcomes.change_followup"),
            "ended": fu.ended_reason,
            "can_resend": fu.status in asking.LIVE and contact.contactable(patient),
            "double_entries": list(fu.double_entries.select_related("first_by", "second_by")),
        }

    def get_urls(self) -> list:
        return [
            path(
                "<path:object_id>/enter/<str:instrument>/",
                self.admin_site.admin_view(self.enter_view),
                name="outcomes_followup_enter",
            ),
            path(
                "<path:object_id>/resolve/<str:instrument>/",
                self.admin_site.admin_view(self.resolve_view),
                name="outcomes_followup_resolve",
            ),
            path(
                "<path:object_id>/tablet/",
                self.admin_site.admin_view(self.tablet_view),
                name="outcomes_followup_tablet",
            ),
            path("<path:object_id>/call/", self.admin_site.admin_view(self.call_view), name="outcomes_followup_call"),
            path(
                "<path:object_id>/resume/",
                self.admin_site.admin_view(self.resume_view),
                name="outcomes_followup_resume",
            ),
            path(
                "<path:object_id>/resend/",
                self.admin_site.admin_view(self.resend_view),
                name="outcomes_followup_resend",
            ),
            *super().get_urls(),
        ]

    def call_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Record a call in one click (the outcome's button) with the optional note typed beside it."""
        fu = self._visible(request, object_id)
        back = reverse("admin:outcomes_followup_change", args=[fu.pk])
        if request.method != "POST":
            return HttpResponseRedirect(back)
        if not request.user.has_perm("outcomes.change_followup"):
            raise PermissionDenied
        outcome = request.POST.get("outcome", "")
        try:
            call = services.call_log(follow_up=fu, outcome=outcome, by=request.user, note=request.POST.get("note", ""))
        except PermissionError:
            raise Http404(gettext("No such follow-up.")) from None
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
            return HttpResponseRedirect(back)
        said = gettext("Call recorded: %(outcome)s.") % {"outcome": call.get_outcome_display().lower()}
        done = {r.instrument for r in fu.responses.all()}
        owed = [i for i in fu.instruments if i not in done]
        if outcome == CallOutcome.ANSWERED_NOW and owed:
            self.message_user(
                request, f"{said} {gettext('Enter the answers as the patient gives them.')}", messages.SUCCESS
            )
            return HttpResponseRedirect(
                reverse("admin:outcomes_followup_enter", args=[fu.pk, owed[0]]) + "?mode=" + Mode.PHONE
            )
        if outcome == CallOutcome.WILL_USE_LINK:
            try:
                dispatcher.message_resend(follow_up=fu, by=request.user)
            except ValueError as exc:
                self.message_user(
                    request,
                    f"{said} " + gettext("The link was not sent again: %(why)s") % {"why": exc},
                    messages.WARNING,
                )
            else:
                self.message_user(request, f"{said} {gettext('The link is being sent again.')}", messages.SUCCESS)
            return HttpResponseRedirect(back)
        if outcome == CallOutcome.WRONG_NUMBER:
            url = reverse("admin:registry_patient_change", args=[fu.episode.patient_id])
            self.message_user(
                request,
                format_html(
                    '{} <a href="{}">{}</a>', said, url, gettext("Correct the phone number on the patient's page.")
                ),
                messages.WARNING,
            )
            return HttpResponseRedirect(back)
        if outcome in services.ENDS_FOLLOW_UP:
            fu.refresh_from_db()
            self.message_user(
                request,
                f"{said} "
                + gettext("This follow-up is ended: %(status)s.") % {"status": fu.get_status_display().lower()},
            )
            return HttpResponseRedirect(back)
        self.message_user(request, said, messages.SUCCESS)
        return HttpResponseRedirect(back)

    def resume_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        fu = self._visible(request, object_id)
        back = reverse("admin:outcomes_followup_change", args=[fu.pk])
        if request.method == "POST":
            if not request.user.has_perm("outcomes.change_followup"):
                raise PermissionDenied
            try:
                services.follow_up_resume(follow_up=fu, by=request.user, reason=request.POST.get("reason", ""))
            except ValidationError as exc:
                self.message_user(request, " ".join(exc.messages), messages.ERROR)
            else:
                self.message_user(request, gettext("The follow-up is resumed."), messages.SUCCESS)
        return HttpResponseRedirect(back)

    def resend_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Send the link again in one click, from the worklist row or the work screen."""
        fu = self._visible(request, object_id)
        if request.method == "POST":
            if not request.user.has_perm("outcomes.change_followup"):
                raise PermissionDenied
            try:
                dispatcher.message_resend(follow_up=fu, by=request.user)
            except ValueError as exc:
                self.message_user(request, f"{fu}: {exc}", messages.WARNING)
            else:
                self.message_user(
                    request,
                    gettext("%(follow_up)s: the link is being sent again.") % {"follow_up": fu},
                    messages.SUCCESS,
                )
        back = request.POST.get("back") or request.headers.get("referer", "")
        if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
            back = reverse("admin:outcomes_followup_change", args=[fu.pk])
        return HttpResponseRedirect(back)

    def tablet_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Hand the clinic tablet to the patient: confirm, then the staff session on this device ends and the
        questionnaire opens for this patient only (outcomes.patient_views)."""
        follow_up = (
            self.get_queryset(request)
            .select_related("episode__patient__identity", "episode__patient__site")
            .filter(pk=pk_or_404(object_id))
            .first()
        )
        if follow_up is None:
            raise Http404(gettext("No such follow-up."))
        if not request.user.has_perm("outcomes.add_response"):
            raise PermissionDenied
        error, other_open = None, False
        if request.method == "POST":
            try:
                token = services.tablet_session_start(
                    follow_up=follow_up, by=request.user, end_other=request.POST.get("end_other") == "1"
                )
            except ValidationError as exc:
                error = " ".join(exc.messages)
                other_open = getattr(exc, "code", None) == "tablet_open"
            else:
                logout(request)  # staff log in again for the next patient
                request.session[patient_views.SESSION_KEY] = token.pk
                request.session[patient_views.TABLET_KEY] = True
                request.session[patient_views.BIRTH_KEY] = True
                return HttpResponseRedirect(reverse("outcomes:patient_questionnaire"), status=303)
        fu = FollowUp.objects.select_related("episode__patient__site", "episode__patient__identity").get(
            pk=follow_up.pk
        )
        candidates = FollowUp.objects.filter(
            episode__patient=fu.episode.patient, status__in=asking.LIVE
        ).select_related("episode__patient__site", "episode__patient__identity")
        everything = asking.asked(candidates, now=clock.now())
        asks = sorted((a for a in everything.values() if a.by_link), key=asking.order_key)
        chosen = everything.get(fu.pk)
        if chosen is None or not chosen.by_link:
            why = services.tablet_refusal(fu, chosen, now=clock.now())
            asks, error = (
                [],
                error or gettext("This follow-up cannot be answered on the tablet now: %(why)s.") % {"why": why},
            )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": gettext("Hand the clinic tablet to the patient"),
            "follow_up": fu,
            "identity": getattr(fu.episode.patient, "identity", None),
            "asks": [(asking.about(a.follow_up, for_staff=True), ", ".join(_names(a.by_link))) for a in asks],
            "minutes": asking.minutes_for(asking.pages_for(asks)),
            "idle_minutes": int(services.TABLET_IDLE.total_seconds() // 60),
            "error": error,
            "other_open": other_open,
        }
        return TemplateResponse(request, "admin/outcomes/followup/tablet.html", context)

    def enter_view(self, request: HttpRequest, object_id: str, instrument: str) -> HttpResponse:
        follow_up = self._visible(request, object_id)
        if instrument not in follow_up.instruments:
            raise Http404(gettext("No such follow-up or instrument."))
        if not (request.user.has_perm("outcomes.add_response") or request.user.has_perm("outcomes.change_response")):
            raise PermissionDenied
        existing = follow_up.responses.filter(instrument=instrument).first()
        site = follow_up.episode.patient.site
        language = getattr(getattr(follow_up.episode.patient, "identity", None), "preferred_language", "en")
        wording = services.wording_for(site=site, instrument=instrument, language=language)
        form = EntryForm(
            request.POST or None,
            instrument=instrument,
            wording=wording,
            editing=existing is not None,
            follow_up=follow_up,
        )
        if existing is not None and request.method != "POST":
            form.initial_from(existing.answers)
            form.initial_missing(existing.missing)
            form.initial["completed_on"] = timezone.localtime(existing.completed_at).date()
            form.initial["mode"] = existing.mode
        elif request.GET.get("mode") in (Mode.PHONE, Mode.PAPER, Mode.TABLET):
            form.initial["mode"] = request.GET["mode"]
        double = existing is None and services.double_entry_on(site)
        pending = (
            DoubleEntry.objects.filter(follow_up=follow_up, instrument=instrument).select_related("first_by").first()
        )
        if pending is not None and pending.second_by_id is not None:
            return HttpResponseRedirect(reverse("admin:outcomes_followup_resolve", args=[follow_up.pk, instrument]))
        warning = None
        if request.method == "POST" and form.is_valid():
            answers = form.answers()
            unscored = unscorable_outputs(instrument, answers)
            if unscored and not form.cleaned_data.get("confirm_incomplete"):
                warning = unscored
            elif double and form.cleaned_data["mode"] == Mode.PAPER:
                try:
                    outcome, _obj = services.double_entry_key(
                        follow_up=follow_up,
                        instrument=instrument,
                        answers=answers,
                        missing=form.missing(),
                        completed_on=form.cleaned_data["completed_on"],
                        by=request.user,
                        language=language,
                    )
                except ValidationError as exc:
                    form.add_error(None, exc)
                else:
                    name = _name(instrument)
                    if outcome == "differ":
                        self.message_user(
                            request,
                            gettext("The second entry differs from the first: choose, for each difference."),
                            messages.WARNING,
                        )
                        return HttpResponseRedirect(
                            reverse("admin:outcomes_followup_resolve", args=[follow_up.pk, instrument])
                        )
                    said = (
                        gettext(
                            "First entry of the paper %(instrument)s kept. A second person keys the same form; it is "
                            "saved and scored when both entries agree."
                        )
                        % {"instrument": name}
                        if outcome == "first"
                        else gettext("The second entry agrees with the first.")
                        + " "
                        + _saved_message(instrument, form.missing(), unscored)
                    )
                    self.message_user(request, said, messages.SUCCESS)
                    return HttpResponseRedirect(reverse("admin:outcomes_followup_change", args=[follow_up.pk]))
            else:
                try:
                    services.response_submit(
                        follow_up=follow_up,
                        instrument=instrument,
                        answers=answers,
                        by=request.user,
                        mode=form.cleaned_data["mode"],
                        language=language,
                        completed_at=services.completed_at_for(form.cleaned_data["completed_on"], site),
                        reason=form.cleaned_data.get("reason", ""),
                        missing=form.missing(),
                    )
                except ValidationError as exc:
                    form.add_error(None, exc)
                else:
                    self.message_user(request, _saved_message(instrument, form.missing(), unscored), messages.SUCCESS)
                    return HttpResponseRedirect(reverse("admin:outcomes_followup_change", args=[follow_up.pk]))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"{_name(instrument)} — {follow_up}",
            "follow_up": follow_up,
            "form": form,
            "instrument": form.definition,
            "instrument_name": _name(instrument),
            "recall_period": staff(form.definition.recall_period),
            "instrument_notes": [staff(note) for note in form.definition.notes],
            "instrument_id": instrument,
            "warning": warning,
            "existing": existing,
            "episode": follow_up.episode,
            "body_part": asking.body_part(follow_up),
            "identity": getattr(follow_up.episode.patient, "identity", None),
            "double": double,
            "pending": pending,
            "pending_mine": pending is not None and pending.first_by_id == request.user.pk,
        }
        return TemplateResponse(request, "admin/outcomes/followup/enter.html", context)

    def resolve_view(self, request: HttpRequest, object_id: str, instrument: str) -> HttpResponse:
        """Double entry: the two keyings of a paper form side by side where they differ; a choice for each and a
        reason, then the answers are saved and scored."""
        follow_up = self._visible(request, object_id)
        if not request.user.has_perm("outcomes.add_response"):
            raise PermissionDenied
        entry = (
            DoubleEntry.objects.select_related("first_by", "second_by")
            .filter(follow_up=follow_up, instrument=instrument, second_by__isnull=False)
            .first()
        )
        if entry is None:
            raise Http404(gettext("No double entry waiting to be resolved."))
        error = None
        if request.method == "POST":
            choices = {k.removeprefix("choice_"): v for k, v in request.POST.items() if k.startswith("choice_")}
            try:
                services.double_entry_resolve(
                    entry=entry, choices=choices, reason=request.POST.get("reason", ""), by=request.user
                )
            except ValidationError as exc:
                error = " ".join(exc.messages)
            else:
                self.message_user(
                    request,
                    gettext("Differences resolved: %(instrument)s saved and scored.")
                    % {"instrument": _name(instrument)},
                )
                return HttpResponseRedirect(reverse("admin:outcomes_followup_change", args=[follow_up.pk]))
        labels = {i.code: i for i in asking.items_asked(instrument)}
        rows = []
        for f in services.double_entry_differences(entry):
            if f == services.DATE_FIELD:
                rows.append(
                    (
                        f,
                        gettext("Date the answers were given"),
                        str(entry.first_completed_on),
                        str(entry.second_completed_on),
                    )
                )
                continue
            item = labels[f]
            rows.append(
                (
                    f,
                    f"{f}. {item.label}",
                    _keyed(item, entry.first_answers.get(f), decode_missing(entry.first_missing).get(f)),
                    _keyed(item, (entry.second_answers or {}).get(f), decode_missing(entry.second_missing).get(f)),
                )
            )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": gettext("Resolve the double entry of %(instrument)s") % {"instrument": _name(instrument)},
            "follow_up": follow_up,
            "entry": entry,
            "rows": rows,
            "error": error,
            "chosen": request.POST,
        }
        return TemplateResponse(request, "admin/outcomes/followup/resolve.html", context)


def _language_name(code: str) -> str:
    """The language's own name ('한국어'), as the language switch shows it."""
    return dict(django_settings.LANGUAGES).get(code, code)


def _keyed(item: Any, value: Any, code: str | None) -> str:
    if value is None:
        why = dict(MissingCode.choices).get(code or "") or gettext("no reason")
        return gettext("blank: %(why)s") % {"why": why.lower()}
    option = next((o.label for o in item.options if o.value == value), "")
    return f"{value} ({option})" if option else str(value)


def _saved_message(instrument: str, missing: dict[str, str], unscored: list[str]) -> str:
    said = gettext("%(instrument)s saved and scored.") % {"instrument": _name(instrument)}
    if missing:
        labels = dict(MissingCode.choices)
        said += " " + gettext("Left blank (%(n)s): %(items)s.") % {
            "n": len(missing),
            "items": ", ".join(f"{c} {labels[r].lower()}" for c, r in missing.items()),
        }
    if unscored:
        said += " " + gettext("Not scored: %(scales)s.") % {"scales": "; ".join(unscored)}
    return said


@admin.register(Worklist)
class WorklistAdmin(FollowUpBaseAdmin):
    # Compact columns so the list fits a 1366 x 768 screen beside the admin's sidebars: who (name and registry
    # ID), the phone on one line, what (joint and timepoint), the window, status, what is owed, and the actions.
    list_display = [
        "who",
        "phone",
        "what",
        "window",
        "status_and_call",
        "owed",
        "next_steps",
    ]
    list_display_links = ["who"]
    ordering = ["window_closes", "id"]
    list_per_page = 50

    def get_ordering(self, request: HttpRequest) -> list[Any]:
        match request.GET.get("work", self.WorkFilter.DEFAULT):
            case "call":
                # What to do next: never called first, then the longest since the last call; closing first.
                return [F("last_call_at").asc(nulls_first=True), "window_closes", "id"]
            case "due_soon":
                return ["window_opens", "id"]
            case _:
                return list(self.ordering)

    class WorkFilter(admin.SimpleListFilter):
        title = _("work")
        parameter_name = "work"
        DEFAULT = "today"

        def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
            return [
                ("today", gettext("To do today (open, closing first)")),
                ("call", gettext("Call list: no answer after the reminders")),
                ("overdue", gettext("Overdue: window closes within 7 days")),
                ("due_soon", gettext("Due soon: opens within 14 days")),
                ("missed", gettext("Missed (last 90 days)")),
                ("all", gettext("All unfinished")),
            ]

        def value(self) -> str:
            return super().value() or self.DEFAULT

        def choices(self, changelist: Any):
            for lookup, title in self.lookup_choices:
                yield {
                    "selected": self.value() == lookup,
                    "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                    "display": title,
                }

        def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
            today = timezone.localdate()
            open_ = [FollowUpStatus.OPEN, FollowUpStatus.PARTIAL]
            match self.value():
                case "today":
                    return queryset.filter(status__in=open_, window_closes__gte=today)
                case "call":
                    return contact.on_call_list(queryset)
                case "overdue":
                    return queryset.filter(
                        status__in=open_, window_closes__gte=today, window_closes__lte=today + timedelta(days=7)
                    )
                case "due_soon":
                    return queryset.filter(
                        status=FollowUpStatus.SCHEDULED,
                        window_opens__gt=today,
                        window_opens__lte=today + timedelta(days=14),
                    )
                case "missed":
                    return queryset.filter(status=FollowUpStatus.MISSED, window_closes__gte=today - timedelta(days=90))
                case _:
                    return queryset.filter(status__in=FollowUp.UNFINISHED)

    list_filter = [
        WorkFilter,
        "timepoint",
        "episode__joint",
        ("episode__patient__site", admin.RelatedOnlyFieldListFilter),
    ]

    @admin.display(description=pgettext_lazy("person", "name"))
    def name(self, obj: FollowUp) -> str:
        identity = getattr(obj.episode.patient, "identity", None)
        return str(identity) if identity else "—"

    @admin.display(description=_("status"), ordering="status")
    def status_and_call(self, obj: FollowUp) -> str:
        last = getattr(obj, "last_call_at", None)
        if last is None:
            return obj.get_status_display()
        said = CallOutcome(obj.last_call_outcome).label.lower()
        when = timezone.localtime(last).strftime("%m-%d %H:%M")
        return format_html(
            '{}<br><small title="{}">{}</small><br><small>{}</small>',
            obj.get_status_display(),
            gettext("last call"),
            gettext("called %(when)s:") % {"when": when},
            said,
        )

    @admin.display(description=_("next step"))
    def next_steps(self, obj: FollowUp) -> str:
        """The common next steps, one click each: call (the work screen's call log), enter what is owed, resend
        the link (a button posting the list's own form), the clinic tablet."""
        links = []
        if obj.status in services.CALLABLE:
            url = reverse("admin:outcomes_followup_change", args=[obj.pk]) + "#call"
            links.append(format_html('<a href="{}">{}</a>', url, gettext("Call…")))
        done = {r.instrument for r in obj.responses.all()}
        owed = [i for i in obj.instruments if i not in done]
        if obj.status in asking.LIVE and owed:
            url = reverse("admin:outcomes_followup_enter", args=[obj.pk, owed[0]])
            links.append(
                format_html(
                    '<a href="{}">{}</a>', url, gettext("Enter %(instrument)s") % {"instrument": _name(owed[0])}
                )
            )
        if asking.window_open(obj, services.site_today(obj.episode.patient.site)):
            links.append(
                format_html(
                    '<a href="{}">{}</a>',
                    reverse("admin:outcomes_followup_tablet", args=[obj.pk]),
                    gettext("Tablet…"),
                )
            )
            if obj.status in asking.LIVE and obj.invited_at is not None:
                links.append(
                    format_html(
                        '<button type="submit" class="linkbutton" formaction="{}" title="{}">{}</button>',
                        reverse("admin:outcomes_followup_resend", args=[obj.pk]),
                        gettext("Send the link again"),
                        gettext("Resend link"),
                    )
                )
        return format_html_join(mark_safe("<br>"), '<span class="nowrap">{}</span>', ((link,) for link in links))

    @admin.display(description=pgettext_lazy("column", "phone"))
    def phone(self, obj: FollowUp) -> str:
        identity = getattr(obj.episode.patient, "identity", None)
        return format_html('<span class="nowrap">{}</span>', identity.phone) if identity and identity.phone else ""

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        last = CallAttempt.objects.filter(follow_up=OuterRef("pk")).order_by("-at", "-id")
        return (
            super()
            .get_queryset(request)
            .prefetch_related("responses")
            .annotate(
                last_call_at=Subquery(last.values("at")[:1]), last_call_outcome=Subquery(last.values("outcome")[:1])
            )
        )

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        return super().changelist_view(request, {"title": gettext("Follow-up worklist"), **(extra_context or {})})

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # the worklist is for reading; answers are entered from the follow-up

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None):
        if not self.get_queryset(request).filter(pk=pk_or_404(object_id)).exists():
            raise Http404(gettext("No such follow-up."))
        return HttpResponseRedirect(reverse("admin:outcomes_followup_change", args=[pk_or_404(object_id)]))

    def history_view(self, request: HttpRequest, object_id: str, extra_context: Any = None) -> HttpResponse:
        # The worklist is a proxy without history of its own: the follow-up's history is the record.
        if not self.get_queryset(request).filter(pk=pk_or_404(object_id)).exists():
            raise Http404(gettext("No such follow-up."))
        return HttpResponseRedirect(reverse("admin:outcomes_followup_history", args=[pk_or_404(object_id)]))


# Responses -------------------------------------------------------------------------------------------------


@admin.register(Response)
class ResponseAdmin(SiteScopedAdminMixin, SimpleHistoryAdmin):
    list_display = ["follow_up", "instrument", "mode", "entered_via", "entered_by", "completed_at", "scoring_version"]
    list_filter = ["instrument", "mode", "entered_via"]
    search_fields = ["follow_up__episode__patient__registry_id"]
    list_select_related = ["follow_up", "follow_up__episode", "follow_up__episode__patient", "entered_by"]
    show_full_result_count = False
    readonly_fields = [
        "follow_up",
        "instrument",
        "answers_table",
        "instrument_version",
        "scoring_version",
        "entered_via",
        "entered_by",
        "mode",
        "language",
        "started_at",
        "completed_at",
        "change_answers",
    ]
    fields = readonly_fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # answers are entered from their follow-up, through the scoring engine

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_registry_admin(request.user)

    @admin.display(description=_("answers"))
    def answers_table(self, obj: Response) -> str:
        """Each item in the form's order: its answer (value and label), or blank and why."""
        labels = dict(MissingCode.choices)
        missing = obj.missing
        rows = []
        for item in asking.items_asked(obj.instrument):
            value = obj.answers.get(item.code)
            if value is None:
                why = labels.get(missing.get(item.code, "")) or gettext("no reason recorded")
                shown = format_html('<em class="worse">{}</em>', gettext("blank: %(why)s") % {"why": why.lower()})
            else:
                option = next((o.label for o in item.options if o.value == value), "")
                shown = format_html("{}{}", value, f" ({option})" if option else "")
            rows.append((item.code, item.label, shown))
        blanks = sum(1 for _c, _l, _s in rows if obj.answers.get(_c) is None)
        answered = ngettext(
            "%(answered)s of %(n)s item answered", "%(answered)s of %(n)s items answered", len(rows)
        ) % {"answered": len(rows) - blanks, "n": len(rows)}
        if blanks:
            answered += gettext("; %(n)s blank") % {"n": blanks}
        return format_html(
            '<p>{}.</p><table class="scores-words"><thead><tr><th>{}</th><th>{}</th>'
            "<th>{}</th></tr></thead><tbody>{}</tbody></table>",
            answered,
            pgettext("table heading", "item"),
            pgettext("table heading", "asked"),
            pgettext("table heading", "answer"),
            format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td></tr>", rows),
        )

    @admin.display(description="")
    def change_answers(self, obj: Response) -> str:
        url = reverse("admin:outcomes_followup_enter", args=[obj.follow_up_id, obj.instrument])
        return format_html('<a href="{}">{}</a>', url, gettext("Change these answers (a reason is required)"))


# Wording ---------------------------------------------------------------------------------------------------


class WordingForm(forms.ModelForm):
    file = forms.FileField(
        required=False,
        label=_("file"),
        help_text=_(
            "A wording file in the registry-wording format (scoring/README.md). It replaces the stored content."
        ),
    )

    class Meta:
        model = InstrumentWording
        fields = ["site", "file"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        upload = cleaned.get("file")
        if upload is None and not self.instance.pk:
            raise ValidationError({"file": gettext("Choose the wording file to load.")})
        if upload is not None:
            try:
                data = json.loads(upload.read().decode("utf-8"))
                wording = scoring.load_wording(data)
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise ValidationError({"file": gettext("Not a JSON file: %(error)s") % {"error": exc}}) from None
            except scoring.ScoringError as exc:
                raise ValidationError({"file": str(exc)}) from None
            site = cleaned.get("site") or getattr(self.instance, "site", None)
            clash = InstrumentWording.objects.filter(
                site=site, instrument=wording.instrument, language=wording.language
            ).exclude(pk=self.instance.pk)
            if clash.exists():
                raise ValidationError(
                    {
                        "file": gettext(
                            "This site already has %(instrument)s wording in %(language)s: open it and load the new "
                            "file there."
                        )
                        % {"instrument": wording.instrument, "language": wording.language}
                    }
                )
            self.instance.content = data
            self.instance.instrument = wording.instrument
            self.instance.language = wording.language
            self.instance.source = getattr(wording, "source", "")[:200]
        return cleaned


@admin.register(InstrumentWording)
class InstrumentWordingAdmin(SiteScopedAdminMixin, SimpleHistoryAdmin):
    form = WordingForm
    list_display = ["instrument", "language", "site", "source", "uploaded_at"]
    list_filter = ["instrument", "language"]
    list_select_related = ["site"]

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        """Say which questionnaires of the sites' plans have no patient wording: those are never sent by link."""
        visible = set(sites_visible_to(request.user).values_list("pk", flat=True))
        if request.method == "GET":
            for site, names in missing_wording().items():
                if site.pk in visible:
                    self.message_user(
                        request,
                        gettext(
                            "%(site)s has no patient wording in %(language)s for %(names)s: these are never sent by "
                            "link or asked on the tablet; staff collect them by phone, on paper or in the clinic "
                            "until the validated wording is loaded here."
                        )
                        % {"site": site.code, "language": repr(site.language), "names": ", ".join(_names(names))},
                        messages.WARNING,
                    )
        return super().changelist_view(request, extra_context)


# Patient contact -------------------------------------------------------------------------------------------


@admin.register(Message)
class MessageAdmin(SiteScopedAdminMixin, admin.ModelAdmin):
    """The outbox: what was sent, what waits, and what failed (staff act on failures)."""

    list_display = ["created_at", "kind", "channel", "patient", "site", "status", "attempts", "sent_at", "last_error"]
    list_filter = ["status", "kind", "channel", ("site", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["patient__registry_id"]
    list_select_related = ["patient", "site"]
    show_full_result_count = False
    readonly_fields = [
        "kind",
        "channel",
        "site",
        "patient",
        "status",
        "attempts",
        "next_attempt_at",
        "claimed_at",
        "sent_at",
        "last_error",
        "provider_ref",
        "created_at",
        "covers",
    ]
    fields = readonly_fields
    actions = ["retry_now"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=_("follow-ups"))
    def covers(self, obj: Message) -> str:
        return ", ".join(str(i.follow_up) for i in obj.items.select_related("follow_up__episode__patient")) or "—"

    @admin.action(description=_("Retry failed messages now"), permissions=["view"])
    def retry_now(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = queryset.filter(status=MessageStatus.FAILED).update(
            status=MessageStatus.PENDING, next_attempt_at=timezone.now(), attempts=0
        )
        self.message_user(
            request,
            ngettext(
                "%(n)s message will be retried by the next dispatcher pass.",
                "%(n)s messages will be retried by the next dispatcher pass.",
                count,
            )
            % {"n": count},
        )


@admin.register(EmailOptOut)
class EmailOptOutAdmin(SiteScopedAdminMixin, SimpleHistoryAdmin):
    """Patients who asked for no emails. Staff record a request made by phone; deleting the row undoes it."""

    list_display = ["patient", "opted_out_at", "source"]
    list_filter = ["source"]
    search_fields = ["patient__registry_id"]
    list_select_related = ["patient"]
    autocomplete_fields = ["patient"]
    fields = ["patient", "source", "opted_out_at"]

    def save_model(self, request: HttpRequest, obj: EmailOptOut, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
        else:
            contact.patient_opt_out(patient=obj.patient, source=obj.source or "staff")


@admin.register(FollowUpSettings)
class FollowUpSettingsAdmin(SiteScopedAdminMixin, SimpleHistoryAdmin):
    list_display = [
        "site",
        "reminder_days",
        "call_after_days",
        "confirm_birth_year",
        "show_patient_chart",
        "digest_hour",
        "double_entry",
        "eq5d5l_value_set",
    ]
    list_select_related = ["site"]

    @transaction.atomic
    def save_model(self, request: HttpRequest, obj: FollowUpSettings, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if "eq5d5l_value_set" in form.changed_data:
            # Every stored index of the site is recomputed in the new value set, in the same transaction.
            rescored = services.eq5d5l_rescore_site(site=obj.site)
            if rescored:
                messages.info(request, f"EQ-5D-5L indices recomputed at {rescored} follow-up(s).")
