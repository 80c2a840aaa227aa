"""Staff admin for follow-up: outcome plans, follow-ups with their scores, the worklist, answer entry from
phone or paper, and the sites' validated wording files. Site scoping comes from registry.admin's mixin."""

from __future__ import annotations

import json
from datetime import datetime, time, timedelta
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth import logout
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from simple_history.admin import SimpleHistoryAdmin

import scoring
from outcomes import asking, contact, patient_views, services
from outcomes.forms import InstrumentForm, unscorable_outputs
from outcomes.models import (
    EmailOptOut,
    FollowUp,
    FollowUpSettings,
    FollowUpStatus,
    InstrumentWording,
    Message,
    MessageStatus,
    Mode,
    OutcomePlan,
    OutcomePlanItem,
    Response,
    Worklist,
)
from registry import clock
from registry.access import is_registry_admin, sites_visible_to
from registry.admin import SiteScopedAdminMixin

INSTRUMENT_NAMES = {
    "hhs_exam": "HHS examination",
    "koos": "KOOS",
    "hoos": "HOOS",
    "womac": "WOMAC",
    "mhhs": "mHHS",
    "odi": "ODI",
    "vas": "Pain VAS",
    "nrs": "Pain NRS",
}


def _names(instruments: list[str]) -> list[str]:
    return [INSTRUMENT_NAMES.get(i, i) for i in instruments]


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

    @admin.display(description="instruments by timepoint")
    def asked(self, obj: OutcomePlan) -> str:
        by_tp = services.plan_instruments(obj)
        return "; ".join(f"{tp}: {', '.join(INSTRUMENT_NAMES.get(i, i) for i in v)}" for tp, v in by_tp.items())

    def has_add_permission(self, request: HttpRequest) -> bool:
        return is_registry_admin(request.user)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_registry_admin(request.user)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_registry_admin(request.user)


# Follow-ups ------------------------------------------------------------------------------------------------


def _scores_table(fu: FollowUp) -> str:
    rows = list(fu.scores.all().order_by("instrument", "key"))
    if not rows:
        return "No scores yet."
    outputs = {}
    for instrument in {r.instrument for r in rows}:
        for o in scoring.get_instrument(instrument).outputs:
            outputs[(instrument, o.key)] = o
    body = format_html_join(
        "",
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        (
            (
                r.instrument,
                r.key,
                r.display_value,
                {"higher_better": "higher = better", "higher_worse": "higher = worse"}.get(
                    getattr(outputs.get((r.instrument, r.key)), "direction", ""), ""
                ),
                r.scoring_version,
            )
            for r in rows
        ),
    )
    return format_html(
        '<table class="scores"><thead><tr><th>instrument</th><th>score</th><th>value</th><th>direction</th>'
        "<th>scoring version</th></tr></thead><tbody>{}</tbody></table>",
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

    @admin.action(description="Send the questionnaire link again", permissions=["change"])
    def resend_link(self, request: HttpRequest, queryset: QuerySet) -> None:
        sent, refused = 0, []
        for fu in queryset:
            try:
                contact.message_resend(follow_up=fu, by=request.user)
                sent += 1
            except ValueError as exc:
                refused.append(f"{fu}: {exc}")
        if sent:
            self.message_user(request, f"{sent} link(s) queued to be sent again.", messages.SUCCESS)
        for line in refused:
            self.message_user(request, line, messages.WARNING)

    @admin.display(description="emails")
    def messages(self, obj: FollowUp) -> str:
        rows = Message.objects.filter(items__follow_up=obj).distinct().order_by("created_at")
        if not rows:
            return "None yet."
        return format_html_join(
            "",
            "<div>{} — {} {}{}</div>",
            (
                (
                    m.created_at.strftime("%Y-%m-%d %H:%M"),
                    m.get_kind_display(),
                    m.get_status_display(),
                    f" ({m.last_error})" if m.last_error else "",
                )
                for m in rows
            ),
        )

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_registry_admin(request.user)

    @admin.display(description="patient", ordering="episode__patient__registry_id")
    def patient(self, obj: FollowUp) -> str:
        return obj.episode.patient.registry_id

    @admin.display(description="joint")
    def joint(self, obj: FollowUp) -> str:
        ep = obj.episode
        return f"{ep.get_joint_display()} {ep.spinal_level or ep.get_side_display()}".strip()

    @admin.display(description="days left", ordering="window_closes")
    def days_left_display(self, obj: FollowUp) -> str:
        if obj.status in (FollowUpStatus.COMPLETED, FollowUpStatus.WITHDRAWN):
            return "—"
        today = services.site_today(obj.episode.patient.site)
        if today < obj.window_opens:
            return f"opens in {(obj.window_opens - today).days}"
        left = (obj.window_closes - today).days
        return "closed" if left < 0 else str(left)

    @admin.display(description="owed")
    def owed(self, obj: FollowUp) -> str:
        done = {r.instrument for r in obj.responses.all()} if obj.pk else set()
        return ", ".join(f"{INSTRUMENT_NAMES.get(i, i)}{' ✓' if i in done else ''}" for i in obj.instruments) or "—"

    @admin.display(description="who answers how")
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
            parts.append(format_html("Patient, by link or clinic tablet: {}", ", ".join(_names(a.by_link))))
            url = reverse("admin:outcomes_followup_tablet", args=[obj.pk])
            parts.append(format_html('<a class="button" href="{}">Hand the clinic tablet to the patient…</a>', url))
        if a.unworded:
            parts.append(
                format_html(
                    "Patient, collected by staff (no patient wording loaded in {}): {}",
                    asking.patient_language(fu),
                    ", ".join(_names(a.unworded)),
                )
            )
        if exam:
            parts.append(format_html("Clinician, at the visit: {}", ", ".join(_names(exam))))
        if not parts:
            return (
                "Window not open today."
                if not asking.window_open(fu, services.site_today(fu.episode.patient.site))
                else "Nothing left."
            )
        return format_html_join("", "<div>{}</div>", ((p,) for p in parts))

    @admin.display(description="enter answers")
    def enter_answers(self, obj: FollowUp) -> str:
        if obj.status == FollowUpStatus.WITHDRAWN:
            return "Consent withdrawn: nothing is recorded."
        done = set(obj.responses.values_list("instrument", flat=True))
        return format_html_join(
            " · ",
            '<a href="{}">{} {}</a>',
            (
                (
                    reverse("admin:outcomes_followup_enter", args=[obj.pk, i]),
                    "Change" if i in done else "Enter",
                    INSTRUMENT_NAMES.get(i, i),
                )
                for i in obj.instruments
            ),
        )

    @admin.display(description="scores")
    def scores(self, obj: FollowUp) -> str:
        return _scores_table(obj)


@admin.register(FollowUp)
class FollowUpAdmin(FollowUpBaseAdmin, SimpleHistoryAdmin):
    list_display = ["patient", "joint", "timepoint", "window_opens", "window_closes", "status", "days_from_index"]
    list_filter = [
        "status",
        "timepoint",
        "episode__joint",
        ("episode__patient__site", admin.RelatedOnlyFieldListFilter),
    ]

    def get_urls(self) -> list:
        return [
            path(
                "<path:object_id>/enter/<str:instrument>/",
                self.admin_site.admin_view(self.enter_view),
                name="outcomes_followup_enter",
            ),
            path(
                "<path:object_id>/tablet/",
                self.admin_site.admin_view(self.tablet_view),
                name="outcomes_followup_tablet",
            ),
            *super().get_urls(),
        ]

    def tablet_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Hand the clinic tablet to the patient: confirm, then the staff session on this device ends and the
        questionnaire opens for this patient only (outcomes.patient_views)."""
        if not str(object_id).isdigit():
            raise Http404("No such follow-up.")
        follow_up = (
            self.get_queryset(request)
            .select_related("episode__patient__identity", "episode__patient__site")
            .filter(pk=int(object_id))
            .first()
        )
        if follow_up is None:
            raise Http404("No such follow-up.")
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
            asks, error = [], error or f"This follow-up cannot be answered on the tablet now: {why}."
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Hand the clinic tablet to the patient",
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
        follow_up = self.get_queryset(request).filter(pk=unquote(object_id)).first()
        if follow_up is None or instrument not in follow_up.instruments:
            raise Http404("No such follow-up or instrument.")
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
            form.initial["completed_on"] = timezone.localtime(existing.completed_at).date()
            form.initial["mode"] = existing.mode
        warning = None
        if request.method == "POST" and form.is_valid():
            answers = form.answers()
            unscored = unscorable_outputs(instrument, answers)
            if unscored and not form.cleaned_data.get("confirm_incomplete"):
                warning = unscored
            else:
                try:
                    services.response_submit(
                        follow_up=follow_up,
                        instrument=instrument,
                        answers=answers,
                        by=request.user,
                        mode=form.cleaned_data["mode"],
                        language=language,
                        completed_at=form.completed_at(site),
                        reason=form.cleaned_data.get("reason", ""),
                    )
                except ValidationError as exc:
                    form.add_error(None, exc)
                else:
                    self.message_user(
                        request, f"{INSTRUMENT_NAMES.get(instrument, instrument)} saved and scored.", messages.SUCCESS
                    )
                    return HttpResponseRedirect(reverse("admin:outcomes_followup_change", args=[follow_up.pk]))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"{INSTRUMENT_NAMES.get(instrument, instrument)} — {follow_up}",
            "follow_up": follow_up,
            "form": form,
            "instrument": form.definition,
            "instrument_id": instrument,
            "warning": warning,
            "existing": existing,
            "episode": follow_up.episode,
        }
        return TemplateResponse(request, "admin/outcomes/followup/enter.html", context)


class EntryForm(InstrumentForm):
    completed_on = forms.DateField(label="Date the answers were given", widget=forms.DateInput(attrs={"type": "date"}))
    mode = forms.ChoiceField(choices=[c for c in Mode.choices if c[0] != Mode.WEB], initial=Mode.PAPER)
    reason = forms.CharField(label="Reason for change", required=False, max_length=100)
    confirm_incomplete = forms.BooleanField(
        label="Save anyway, with the scores that cannot be computed left empty", required=False
    )

    def __init__(self, *args: Any, editing: bool, follow_up: FollowUp, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.editing = editing
        self.follow_up = follow_up
        self.fields["reason"].required = editing
        if editing:
            self.fields["reason"].help_text = "These answers were already submitted: say why they change."
        self.fields["completed_on"].initial = min(timezone.localdate(), follow_up.window_closes)

    def clean_completed_on(self) -> Any:
        day = self.cleaned_data["completed_on"]
        fu = self.follow_up
        if day > timezone.localdate():
            raise ValidationError("This date is in the future.")
        if not fu.window_opens <= day <= fu.window_closes:
            raise ValidationError(
                f"Outside the {fu.get_timepoint_display()} window ({fu.window_opens} to {fu.window_closes})."
            )
        return day

    def completed_at(self, site: Any) -> datetime:
        import zoneinfo

        # Noon at the site, or now if that is still ahead: a date-only paper form keeps its calendar day.
        tz = zoneinfo.ZoneInfo(site.time_zone)
        moment = datetime.combine(self.cleaned_data["completed_on"], time(12, 0), tzinfo=tz)
        return min(moment, timezone.now() - timedelta(seconds=1)) if moment > timezone.now() else moment


@admin.register(Worklist)
class WorklistAdmin(FollowUpBaseAdmin):
    # Compact columns so the list fits a 1366 x 768 screen beside the admin's sidebars: who (name and registry
    # ID), the phone on one line, what (joint and timepoint), the window, status, what is owed, and the actions.
    list_display = [
        "days_left_display",
        "who",
        "phone",
        "what",
        "window",
        "status",
        "owed",
        "next_steps",
    ]
    list_display_links = ["who"]
    ordering = ["window_closes", "id"]

    class WorkFilter(admin.SimpleListFilter):
        title = "work"
        parameter_name = "work"
        DEFAULT = "today"

        def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
            return [
                ("today", "To do today (open, closing first)"),
                ("call", "Call list: no answer after the reminders"),
                ("overdue", "Overdue: window closes within 7 days"),
                ("due_soon", "Due soon: opens within 14 days"),
                ("missed", "Missed (last 90 days)"),
                ("all", "All unfinished"),
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
                    return contact.on_call_list(queryset).order_by("window_closes")
                case "overdue":
                    return queryset.filter(
                        status__in=open_, window_closes__gte=today, window_closes__lte=today + timedelta(days=7)
                    )
                case "due_soon":
                    return queryset.filter(
                        status=FollowUpStatus.SCHEDULED,
                        window_opens__gt=today,
                        window_opens__lte=today + timedelta(days=14),
                    ).order_by("window_opens")
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

    @admin.display(description="name")
    def name(self, obj: FollowUp) -> str:
        identity = getattr(obj.episode.patient, "identity", None)
        return str(identity) if identity else "—"

    @admin.display(description="patient", ordering="episode__patient__identity__family_name")
    def who(self, obj: FollowUp) -> str:
        identity = getattr(obj.episode.patient, "identity", None)
        return format_html(
            "{}<br><small>{}</small>", str(identity) if identity else "—", obj.episode.patient.registry_id
        )

    @admin.display(description="follow-up", ordering="timepoint")
    def what(self, obj: FollowUp) -> str:
        return format_html("{}<br><small>{}</small>", asking.body_part(obj), obj.get_timepoint_display())

    @admin.display(description="window", ordering="window_closes")
    def window(self, obj: FollowUp) -> str:
        return format_html(
            '<span class="nowrap">{} –</span><br><span class="nowrap">{}</span>',
            obj.window_opens.strftime("%Y-%m-%d"),
            obj.window_closes.strftime("%Y-%m-%d"),
        )

    @admin.display(description="next step")
    def next_steps(self, obj: FollowUp) -> str:
        """The common next steps, one click each: enter what is owed, resend the link, the clinic tablet."""
        links = []
        done = {r.instrument for r in obj.responses.all()}
        owed = [i for i in obj.instruments if i not in done]
        if obj.status in asking.LIVE and owed:
            url = reverse("admin:outcomes_followup_enter", args=[obj.pk, owed[0]])
            links.append(format_html('<a href="{}">Enter {}</a>', url, INSTRUMENT_NAMES.get(owed[0], owed[0])))
        if asking.window_open(obj, services.site_today(obj.episode.patient.site)):
            links.append(
                format_html('<a href="{}">Tablet…</a>', reverse("admin:outcomes_followup_tablet", args=[obj.pk]))
            )
        return format_html_join(mark_safe("<br>"), '<span class="nowrap">{}</span>', ((link,) for link in links))

    @admin.display(description="phone")
    def phone(self, obj: FollowUp) -> str:
        identity = getattr(obj.episode.patient, "identity", None)
        return format_html('<span class="nowrap">{}</span>', identity.phone) if identity and identity.phone else ""

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).prefetch_related("responses")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # the worklist is for reading; answers are entered from the follow-up

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None):
        if not self.get_queryset(request).filter(pk=unquote(object_id)).exists():
            raise Http404("No such follow-up.")
        return HttpResponseRedirect(reverse("admin:outcomes_followup_change", args=[unquote(object_id)]))

    def history_view(self, request: HttpRequest, object_id: str, extra_context: Any = None) -> HttpResponse:
        # The worklist is a proxy without history of its own: the follow-up's history is the record.
        if not self.get_queryset(request).filter(pk=unquote(object_id)).exists():
            raise Http404("No such follow-up.")
        return HttpResponseRedirect(reverse("admin:outcomes_followup_history", args=[unquote(object_id)]))


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

    @admin.display(description="answers")
    def answers_table(self, obj: Response) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.answers, indent=1, sort_keys=True))

    @admin.display(description="")
    def change_answers(self, obj: Response) -> str:
        url = reverse("admin:outcomes_followup_enter", args=[obj.follow_up_id, obj.instrument])
        return format_html('<a href="{}">Change these answers (a reason is required)</a>', url)


# Wording ---------------------------------------------------------------------------------------------------


class WordingForm(forms.ModelForm):
    file = forms.FileField(
        required=False,
        help_text="A wording file in the registry-wording format (scoring/README.md). It replaces the stored content.",
    )

    class Meta:
        model = InstrumentWording
        fields = ["site", "file"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        upload = cleaned.get("file")
        if upload is None and not self.instance.pk:
            raise ValidationError({"file": "Choose the wording file to load."})
        if upload is not None:
            try:
                data = json.loads(upload.read().decode("utf-8"))
                wording = scoring.load_wording(data)
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise ValidationError({"file": f"Not a JSON file: {exc}"}) from None
            except scoring.ScoringError as exc:
                raise ValidationError({"file": str(exc)}) from None
            site = cleaned.get("site") or getattr(self.instance, "site", None)
            clash = InstrumentWording.objects.filter(
                site=site, instrument=wording.instrument, language=wording.language
            ).exclude(pk=self.instance.pk)
            if clash.exists():
                raise ValidationError(
                    {
                        "file": f"This site already has {wording.instrument} wording in "
                        f"{wording.language}: open it and load the new file there."
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
        from outcomes.checks import missing_wording

        visible = set(sites_visible_to(request.user).values_list("pk", flat=True))
        if request.method == "GET":
            for site, names in missing_wording().items():
                if site.pk in visible:
                    self.message_user(
                        request,
                        f"{site.code} has no patient wording in {site.language!r} for {', '.join(_names(names))}: "
                        "these are never sent by link or asked on the tablet; staff collect them by phone, on paper "
                        "or in the clinic until the validated wording is loaded here.",
                        messages.WARNING,
                    )
        return super().changelist_view(request, extra_context)


# Patient contact -------------------------------------------------------------------------------------------


@admin.register(Message)
class MessageAdmin(SiteScopedAdminMixin, admin.ModelAdmin):
    """The outbox: what was sent, what waits, and what failed (staff act on failures)."""

    list_display = ["created_at", "kind", "patient", "site", "status", "attempts", "sent_at", "last_error"]
    list_filter = ["status", "kind", ("site", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["patient__registry_id"]
    list_select_related = ["patient", "site"]
    show_full_result_count = False
    readonly_fields = [
        "kind",
        "site",
        "patient",
        "status",
        "attempts",
        "next_attempt_at",
        "claimed_at",
        "sent_at",
        "last_error",
        "created_at",
        "covers",
    ]
    fields = readonly_fields
    actions = ["retry_now"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="follow-ups")
    def covers(self, obj: Message) -> str:
        return ", ".join(str(i.follow_up) for i in obj.items.select_related("follow_up__episode__patient")) or "—"

    @admin.action(description="Retry failed messages now", permissions=["view"])
    def retry_now(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = queryset.filter(status=MessageStatus.FAILED).update(
            status=MessageStatus.PENDING, next_attempt_at=timezone.now(), attempts=0
        )
        self.message_user(request, f"{count} message(s) will be retried by the next dispatcher pass.")


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
    ]
    list_select_related = ["site"]
