"""The staff admin. Site scoping is `SiteScopedAdminMixin`: every queryset, foreign-key choice, autocomplete and
inline goes through `Model.objects.visible_to(user)` (registry.access), so a coordinator at site A never lists,
finds, opens or assigns anything of site B. Changes to clinical data ask for a reason, which the history keeps.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.models import User
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from registry import roles
from registry.access import is_registry_admin, pk_or_404, sites_visible_to
from registry.extensions import EPISODE_PANELS
from registry.models import (
    Administration,
    AdverseEvent,
    ConsentDocument,
    EpisodeStatus,
    Membership,
    Patient,
    PatientIdentity,
    Protocol,
    ReleasePolicy,
    Site,
    SubsequentSurgery,
    TreatmentEpisode,
    site_date,
)
from registry.services import PatientRightsError, episode_cancel, episode_mark_done, patient_anonymise, patient_export


def _scoped(model: type[models.Model], request: HttpRequest) -> models.QuerySet:
    manager = model._default_manager
    if hasattr(manager, "visible_to"):
        return manager.visible_to(request.user)
    return manager.all()


def patient_label(patient: Patient) -> str:
    """What staff recognise a patient by in pickers: name, year of birth, record number and registry ID. Only
    staff pages use it, and their querysets hold their own sites' patients alone."""
    identity = getattr(patient, "identity", None)
    if identity is None:
        return patient.registry_id
    details = f"{identity.date_of_birth:%Y}"
    if identity.medical_record_number:
        details += ", " + gettext("record %(number)s") % {"number": identity.medical_record_number}
    return f"{identity.family_name}, {identity.given_name} ({details}) · {patient.registry_id}"


class SiteScopedAdminMixin:
    """Scopes the admin's rows and every related choice to the sites the user may see."""

    def get_queryset(self, request: HttpRequest) -> models.QuerySet:
        qs = super().get_queryset(request)  # type: ignore[misc]
        return qs.visible_to(request.user) if hasattr(qs, "visible_to") else qs

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if "queryset" not in kwargs:
            kwargs["queryset"] = _scoped(db_field.remote_field.model, request)
        if db_field.remote_field.model is Patient:
            kwargs["queryset"] = kwargs["queryset"].select_related("identity")
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)  # type: ignore[misc]
        if db_field.remote_field.model is Patient and field is not None:
            field.label_from_instance = patient_label
        return field

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if "queryset" not in kwargs:
            kwargs["queryset"] = _scoped(db_field.remote_field.model, request)
        return super().formfield_for_manytomany(db_field, request, **kwargs)  # type: ignore[misc]

    def _get_obj_does_not_exist_redirect(self, request: HttpRequest, opts: Any, object_id: str) -> HttpResponse:
        # Django redirects to the index with "doesn't exist"; another site's record is simply not found.
        raise Http404(f"No {opts.verbose_name} with this ID.")

    def _404_unless_visible(self, request: HttpRequest, object_id: str) -> None:
        pk = pk_or_404(object_id)
        if not is_registry_admin(request.user) and not self.get_queryset(request).filter(pk=pk).exists():
            raise Http404("No such record.")

    def history_view(self, request: HttpRequest, object_id: str, extra_context: Any = None) -> HttpResponse:
        # simple-history falls back to the latest historical row when the object is not in get_queryset(),
        # which would show another site's history; only the registry administrator sees deleted rows' history.
        self._404_unless_visible(request, object_id)
        return super().history_view(request, object_id, extra_context)  # type: ignore[misc]

    def history_form_view(
        self, request: HttpRequest, object_id: str, version_id: str, extra_context: Any = None
    ) -> HttpResponse:
        # simple-history opens (and on POST reverts to) any historical version by id, bypassing get_queryset().
        self._404_unless_visible(request, object_id)
        return super().history_form_view(request, object_id, version_id, extra_context)  # type: ignore[misc]


class ChangeReasonForm(forms.ModelForm):
    """Adds 'reason for change', required when an existing clinical record is edited."""

    change_reason = forms.CharField(
        label=_("Reason for change"),
        required=False,
        max_length=100,
        help_text=_("Required when you change a saved record; kept in its history."),
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        edited = [f for f in self.changed_data if f != "change_reason"]
        if self.instance.pk and edited and not cleaned.get("change_reason", "").strip():
            self.add_error("change_reason", _("Say why this saved record is being changed."))
        return cleaned


class ClinicalAdmin(SiteScopedAdminMixin, SimpleHistoryAdmin):
    """Base for clinical models: site-scoped, history kept with who and why, no full count on big lists."""

    form = ChangeReasonForm
    show_full_result_count = False
    list_per_page = 50

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        reason = (form.cleaned_data.get("change_reason") or "").strip()
        obj._change_reason = reason or ("created in admin" if not change else "edited in admin")
        request._registry_change_reason = obj._change_reason  # type: ignore[attr-defined]
        super().save_model(request, obj, form, change)

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        reason = getattr(request, "_registry_change_reason", "edited in admin")
        instances = formset.save(commit=False)
        for obj in formset.deleted_objects:
            obj._change_reason = reason
            obj.delete()
        for obj in instances:
            obj._change_reason = reason
            obj.save()
        formset.save_m2m()


class ReasonedInlineFormSet(forms.BaseInlineFormSet):
    """A saved row changed in an inline needs the page's reason for change as well; ChangeReasonForm asks for it only
    when the page's own record changed, and save_formset() files the inline rows' history under the same reason."""

    def clean(self) -> None:
        super().clean()
        if (self.data.get("change_reason") or "").strip():
            return
        if any(form.instance.pk and form.has_changed() for form in self.initial_forms):
            raise forms.ValidationError(_("Say why these saved records are being changed, in 'Reason for change'."))


class ScopedInline(SiteScopedAdminMixin):
    show_change_link = True
    extra = 0
    formset = ReasonedInlineFormSet


# Sites and staff ------------------------------------------------------------------------------------------


class ReleasePolicyInline(admin.StackedInline):
    """The site's research release policy (research/kanon.py); without one the defaults apply. Only the registry
    administrator changes it (the Site page is theirs to change); site staff see it."""

    model = ReleasePolicy
    extra = 1
    max_num = 1
    can_delete = True
    fields = ["k", "age_band_years", "age_top_code", "bmi_band", "bmi_top_code"]
    verbose_name = _("research release policy (empty: the defaults)")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_registry_admin(request.user)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_registry_admin(request.user)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_registry_admin(request.user)


@admin.register(Site)
class SiteAdmin(SiteScopedAdminMixin, SimpleHistoryAdmin):
    list_display = ["code", "name", "country", "time_zone", "language", "contact_email", "active"]
    inlines = [ReleasePolicyInline]
    list_filter = ["active", "language"]
    search_fields = ["code", "name"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return is_registry_admin(request.user)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_registry_admin(request.user)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_registry_admin(request.user)


@admin.register(Membership)
class MembershipAdmin(SiteScopedAdminMixin, SimpleHistoryAdmin):
    list_display = ["user", "site", "role", "active"]
    list_filter = ["role", "active", ("site", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["user__username", "user__email", "site__code"]
    list_select_related = ["user", "site"]
    autocomplete_fields = ["user"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return is_registry_admin(request.user)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_registry_admin(request.user)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_registry_admin(request.user)

    def save_model(self, request: HttpRequest, obj: Membership, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        roles.membership_sync_user(user=obj.user)

    def delete_model(self, request: HttpRequest, obj: Membership) -> None:
        user = obj.user
        super().delete_model(request, obj)
        roles.membership_sync_user(user=user)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    fields = ["site", "role", "active"]


admin.site.unregister(User)


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    inlines = [MembershipInline]
    list_display = ["username", "email", "first_name", "last_name", "is_staff", "is_superuser", "is_active"]

    def has_module_permission(self, request: HttpRequest) -> bool:
        return is_registry_admin(request.user)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_registry_admin(request.user)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # accounts are deactivated, never deleted: their names stay in the audit trail

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        roles.membership_sync_user(user=form.instance)


@admin.register(Protocol)
class ProtocolAdmin(ClinicalAdmin):
    list_display = ["code", "version", "name", "site", "regulator", "regulator_reference", "active"]
    list_filter = ["regulator", "active", ("site", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["code", "name", "regulator_reference"]
    list_select_related = ["site"]


# Patients and treatments ----------------------------------------------------------------------------------


class IdentityFormSet(ReasonedInlineFormSet):
    """The identity is checked against the patient as posted with it (its site's country for a mobile number
    without +, its contact channel for whether a number is needed), not the patient as last saved."""

    def _construct_form(self, i: int, **kwargs: Any) -> forms.Form:
        form = super()._construct_form(i, **kwargs)
        form.instance.posted_patient = self.instance
        return form


class IdentityInline(ScopedInline, admin.StackedInline):
    model = PatientIdentity
    formset = IdentityFormSet
    can_delete = False
    show_change_link = False
    min_num = 1
    max_num = 1
    verbose_name_plural = _("identity (never shown to researchers)")


IDENTITY_PREFIX = "identity"  # Django's default prefix for the inline of Patient.identity


class EpisodeInlineFormSet(ReasonedInlineFormSet):
    """Episodes on the patient page are checked against the date of birth posted with them: the identity inline
    may be new or changed in this very post, which TreatmentEpisode.clean() (reading the saved identity) can't see."""

    def clean(self) -> None:
        super().clean()
        try:  # the identity inline's field; if it is invalid, that form shows the error
            born = forms.DateField().clean(self.data.get(f"{IDENTITY_PREFIX}-0-date_of_birth"))
        except forms.ValidationError:
            return
        for form in self.forms:
            index_date = getattr(form, "cleaned_data", {}).get("index_date")
            if index_date and index_date < born:
                form.add_error("index_date", _("The index date is before the patient's date of birth."))


class EpisodeInline(ScopedInline, admin.StackedInline):
    # Stacked, a few fields a row: the patient page fits a 1366-pixel screen (a table of eight columns did not).
    model = TreatmentEpisode
    formset = EpisodeInlineFormSet
    fields = [("status", "index_date"), ("joint", "side", "spinal_level"), ("diagnosis", "kl_grade"), "protocol"]
    autocomplete_fields = ["protocol"]


CONSENTS = ("consent_follow_up", "consent_research", "consent_email")


CONSENT_ON_PAPER, CONSENT_BY_PATIENT = "paper", "patient"


class PatientForm(ChangeReasonForm):
    """Consent is an explicit choice for each scope (nothing ticked in advance), or left to the patient, who answers
    the site's consent document by their first link; the registry ID shown on a new patient's page is the one the
    record gets, kept across a save that failed validation."""

    registry_id_signed = forms.CharField(widget=forms.HiddenInput, required=False)
    consent_taken = forms.ChoiceField(
        label=_("How consent is taken"),
        choices=[
            (CONSENT_ON_PAPER, _("On paper, at the clinic: record the version, date and answers below")),
            (CONSENT_BY_PATIENT, _("By the patient, on the site's consent document, when they open their first link")),
        ],
        widget=forms.RadioSelect,
        error_messages={"required": _("Say how consent is taken.")},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in CONSENTS:
            if name not in self.fields:
                continue
            model_field = Patient._meta.get_field(name)
            self.fields[name] = forms.TypedChoiceField(
                label=model_field.verbose_name.capitalize(),
                choices=[("True", _("Yes")), ("False", _("No"))],
                coerce=lambda value: value == "True",
                empty_value=None,
                required=False,
                widget=forms.RadioSelect,
            )
            if self.instance.pk and not self.instance.consent_pending:
                self.initial[name] = str(getattr(self.instance, name))
            else:
                self.initial.pop(name, None)
        if "consent_taken" in self.fields and self.instance.pk:
            self.initial["consent_taken"] = CONSENT_BY_PATIENT if self.instance.consent_pending else CONSENT_ON_PAPER
        if not self.instance.pk:
            signer = signing.Signer(salt="registry.patient.registry_id")
            given = self.data.get(self.add_prefix("registry_id_signed")) if self.is_bound else None
            registry_id = None
            if given:
                try:
                    registry_id = signer.unsign(given)
                except signing.BadSignature:
                    registry_id = None
            if not registry_id or Patient.objects.filter(registry_id=registry_id).exists():
                registry_id = self.instance.registry_id
            self.instance.registry_id = registry_id
            self.initial["registry_id_signed"] = signer.sign(registry_id)
            if self.is_bound:  # re-rendered after an error: keep the same ID in the page
                data = self.data.copy()
                data[self.add_prefix("registry_id_signed")] = signer.sign(registry_id)
                self.data = data

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if "consent_taken" not in self.fields:
            return cleaned
        if cleaned.get("consent_taken") == CONSENT_BY_PATIENT:
            if self.instance.pk and not self.instance.consent_pending:
                self.add_error(
                    "consent_taken",
                    _("Consent is already recorded; to undo it, the patient withdraws (see Withdrawal)."),
                )
                return cleaned
            for name in ("consent_version", "consent_date"):
                if cleaned.get(name):
                    self.add_error(name, _("Leave this empty: the patient gives consent by their link."))
            # Until the patient answers: follow-up and research wait; the first message asks (by their channel).
            cleaned.update(consent_version="", consent_date=None, consent_follow_up=False, consent_research=False)
            cleaned["consent_email"] = True
            for name in ("consent_version", "consent_date", *CONSENTS):
                if name in self.fields:
                    setattr(self.instance, name, cleaned[name])
        elif cleaned.get("consent_taken") == CONSENT_ON_PAPER:
            for name in CONSENTS:
                if name in self.fields and cleaned.get(name) is None:
                    self.add_error(name, _("Ask the patient and record yes or no."))
            for name, message in (
                ("consent_version", _("Give the version of the consent form the patient signed.")),
                ("consent_date", _("Give the date the consent form was signed.")),
            ):
                if name in self.fields and not cleaned.get(name) and name not in self.errors:
                    self.add_error(name, message)
        return cleaned


@admin.register(ConsentDocument)
class ConsentDocumentAdmin(ClinicalAdmin):
    list_display = ["title", "site", "language", "version", "active", "demo", "created_at"]
    list_filter = [("site", admin.RelatedOnlyFieldListFilter), "language", "active"]
    search_fields = ["title", "version"]
    list_select_related = ["site"]
    fields = ["site", "language", "version", "title", "text", "active", "demo", "change_reason"]


@admin.register(Patient)
class PatientAdmin(ClinicalAdmin):
    form = PatientForm
    radio_fields = {"contact_channel": admin.VERTICAL}
    list_display = ["registry_id", "name", "site", "sex", "age", "consent", "withdrawn_on"]
    list_filter = [
        ("site", admin.RelatedOnlyFieldListFilter),
        "sex",
        "consent_research",
        ("withdrawn_on", admin.EmptyFieldListFilter),
    ]
    search_fields = [
        "registry_id",
        "identity__family_name",
        "identity__given_name",
        "identity__email",
        "identity__phone",
        "identity__medical_record_number",
    ]
    list_select_related = ["site", "identity"]
    readonly_fields = ["registry_id", "patient_rights", "consent_answers"]

    @admin.display(description=_("consent given by the patient"))
    def consent_answers(self, obj: Patient) -> str:
        """The patient's own answers to the consent document (and a withdrawal by link), as given: never edited."""
        from django.utils.html import format_html, format_html_join

        if obj.pk is None:
            return "—"
        rows = [
            (
                date_format(timezone.localtime(d.decided_at), "SHORT_DATETIME_FORMAT"),
                d.get_decision_display(),
                d.version or "—",
                d.get_language_display(),
                d.get_channel_display(),
            )
            for d in obj.consent_decisions.all()
        ]
        if not rows:
            return gettext("None yet.") if obj.consent_pending else "—"
        return format_html(
            "<table><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>{}</table>",
            gettext("when"),
            gettext("decision"),
            gettext("document version"),
            gettext("language"),
            gettext("channel"),
            format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", rows),
        )

    def autocomplete_label(self, obj: Patient) -> str:
        return patient_label(obj)

    def get_search_results(self, request: HttpRequest, queryset: models.QuerySet, search_term: str) -> Any:
        queryset, duplicates = super().get_search_results(request, queryset, search_term)
        return queryset.select_related("identity"), duplicates

    inlines = [IdentityInline, EpisodeInline]
    fieldsets = [
        (None, {"fields": ["registry_id", "site", "sex", "registry_id_signed"]}),
        (
            _("Consent"),
            {
                "fields": [
                    "consent_taken",
                    "consent_version",
                    "consent_date",
                    "consent_follow_up",
                    "consent_research",
                    "consent_email",
                    "contact_channel",
                    "consent_answers",
                ]
            },
        ),
        (_("Withdrawal"), {"fields": ["withdrawn_on", "withdrawal_reason", "patient_rights"]}),
        (_("Audit"), {"fields": ["change_reason"]}),
    ]

    @admin.display(description=_("consent"), ordering="consent_date")
    def consent(self, obj: Patient) -> str:
        if obj.consent_pending:
            return gettext("to be given by the patient")
        if not obj.consent_follow_up:
            return gettext("declined (%(date)s)") % {"date": date_format(obj.consent_date, "SHORT_DATE_FORMAT")}
        return date_format(obj.consent_date, "SHORT_DATE_FORMAT")

    @admin.display(description=_("name"), ordering="identity__family_name")
    def name(self, obj: Patient) -> str:
        identity = getattr(obj, "identity", None)
        return str(identity) if identity else "—"

    @admin.display(description=_("age"))
    def age(self, obj: Patient) -> int | None:
        from django.utils import timezone

        identity = getattr(obj, "identity", None)
        if identity is None:
            return None
        today = timezone.localdate()
        born = identity.date_of_birth
        return today.year - born.year - ((today.month, today.day) < (born.month, born.day))

    def get_urls(self) -> list:
        from django.urls import path

        return [
            path(
                "<path:object_id>/export/", self.admin_site.admin_view(self.export_view), name="registry_patient_export"
            ),
            path(
                "<path:object_id>/anonymise/",
                self.admin_site.admin_view(self.anonymise_view),
                name="registry_patient_anonymise",
            ),
            *super().get_urls(),
        ]

    @admin.display(description=_("patient rights"))
    def patient_rights(self, obj: Patient) -> str:
        from django.urls import reverse
        from django.utils.html import format_html

        if obj.pk is None:
            return "—"
        export = reverse("admin:registry_patient_export", args=[obj.pk])
        anonymise = reverse("admin:registry_patient_anonymise", args=[obj.pk])
        return format_html(
            '<a href="{}">{}</a> · <a href="{}">{}</a>',
            export,
            gettext("Export everything held (access request)"),
            anonymise,
            gettext("Anonymise (withdrawn patients)"),
        )

    def _patient_or_404(self, request: HttpRequest, object_id: str) -> Patient:
        patient = self.get_queryset(request).filter(pk=pk_or_404(object_id)).first()
        if patient is None:
            raise Http404("No such patient.")
        return patient

    def export_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        import json

        from django.core.exceptions import PermissionDenied
        from django.core.serializers.json import DjangoJSONEncoder

        patient = self._patient_or_404(request, object_id)
        if not self.has_view_permission(request, patient):
            raise PermissionDenied
        data = patient_export(patient=patient, by=request.user)
        response = HttpResponse(json.dumps(data, indent=1, cls=DjangoJSONEncoder), content_type="application/json")
        response["Content-Disposition"] = f'attachment; filename="patient-{patient.registry_id}.json"'
        response["Cache-Control"] = "no-store"
        return response

    def anonymise_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        from django.contrib import messages
        from django.core.exceptions import PermissionDenied
        from django.http import HttpResponseRedirect
        from django.template.response import TemplateResponse
        from django.urls import reverse

        patient = self._patient_or_404(request, object_id)
        if not self.has_change_permission(request, patient):
            raise PermissionDenied
        error = None
        if request.method == "POST":
            try:
                patient_anonymise(patient=patient, by=request.user, reason=request.POST.get("reason", ""))
            except PatientRightsError as exc:
                error = str(exc)
            else:
                self.message_user(
                    request, gettext("%(patient)s was anonymised.") % {"patient": patient}, messages.SUCCESS
                )
                return HttpResponseRedirect(reverse("admin:registry_patient_change", args=[patient.pk]))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "patient": patient,
            "error": error,
            "title": gettext("Anonymise %(patient)s") % {"patient": patient},
        }
        return TemplateResponse(request, "admin/registry/patient/anonymise.html", context)

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        initial = super().get_changeform_initial_data(request)
        sites = list(sites_visible_to(request.user)[:2])
        if len(sites) == 1:
            initial.setdefault("site", sites[0].pk)
        return initial


class AdministrationInline(ScopedInline, admin.StackedInline):
    model = Administration
    fieldsets = [
        (None, {"fields": [("administered_on", "product_type", "source", "product_name")]}),
        (
            _("Harvest and processing"),
            {
                "fields": [
                    ("tissue", "harvest_site", "harvest_volume_ml"),
                    ("processing", "device_kit", "centrifuge_spins"),
                ]
            },
        ),
        (_("Dose"), {"fields": [("cell_dose_millions", "viability_pct", "volume_ml")]}),
        (_("PRP"), {"fields": [("platelet_concentration", "leukocytes", "activation")]}),
        (
            _("Delivery"),
            {
                "fields": [
                    ("route", "image_guidance", "operator"),
                    ("adjunct_prp", "adjunct_ha", "adjunct_rehabilitation"),
                ]
            },
        ),
    ]


class AdverseEventInline(ScopedInline, admin.TabularInline):
    model = AdverseEvent
    fields = ["onset_date", "event_type", "grade", "serious", "relatedness", "outcome", "resolution_date"]


class SurgeryInline(ScopedInline, admin.TabularInline):
    model = SubsequentSurgery
    fields = ["surgery_date", "surgery_type"]


@admin.register(TreatmentEpisode)
class TreatmentEpisodeAdmin(ClinicalAdmin):
    list_display = ["treated", "patient_who", "status", "kl_grade", "index_date", "protocol"]
    list_filter = [
        "status",
        "joint",
        "side",
        "kl_grade",
        "diagnosis",
        ("patient__site", admin.RelatedOnlyFieldListFilter),
    ]
    search_fields = ["patient__registry_id", "patient__identity__family_name", "spinal_level"]
    list_select_related = ["patient", "patient__site", "patient__identity", "protocol"]
    autocomplete_fields = ["patient", "protocol"]
    date_hierarchy = "index_date"

    @admin.display(description=_("treatment"), ordering="joint")
    def treated(self, obj: TreatmentEpisode) -> str:
        where = obj.spinal_level or obj.get_side_display()
        return f"{obj.get_joint_display()} ({where})"

    @admin.display(description=_("patient"), ordering="patient__identity__family_name")
    def patient_who(self, obj: TreatmentEpisode) -> str:
        return patient_label(obj.patient)

    inlines = [AdministrationInline, AdverseEventInline, SurgeryInline]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "patient",
                    ("status", "index_date"),
                    ("joint", "side", "spinal_level"),
                    ("diagnosis", "kl_grade"),
                    "bmi",
                    "protocol",
                ]
            },
        ),
        (
            _("Prior treatments"),
            {
                "fields": [
                    ("prior_nsaids", "prior_physiotherapy", "prior_steroid_injection"),
                    ("prior_ha_injection", "prior_prp_injection", "prior_surgery"),
                ]
            },
        ),
        (_("Audit"), {"fields": ["change_reason"]}),
    ]
    # Panels of the apps above the core (registry.extensions.EPISODE_PANELS) go below the inlines.
    change_form_template = "admin/registry/treatmentepisode/change_form.html"

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # A saved episode changes status only through "Mark as done" and "Cancel" (services), never the form.
        return [*super().get_readonly_fields(request, obj), *(["status"] if obj is not None else [])]

    def formfield_for_choice_field(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "status":
            kwargs["choices"] = [c for c in EpisodeStatus.choices if c[0] != EpisodeStatus.CANCELLED]
        return super().formfield_for_choice_field(db_field, request, **kwargs)

    def get_inline_instances(self, request: HttpRequest, obj: Any = None) -> list:
        # Administrations, adverse events and later surgeries belong to a treatment that is done.
        if obj is not None and not obj.is_done:
            return []
        return super().get_inline_instances(request, obj)

    def get_urls(self) -> list:
        return [
            path("<path:object_id>/done/", self.admin_site.admin_view(self.done_view), name="registry_episode_done"),
            path(
                "<path:object_id>/cancel/",
                self.admin_site.admin_view(self.cancel_view),
                name="registry_episode_cancel",
            ),
            *super().get_urls(),
        ]

    def _episode_or_404(self, request: HttpRequest, object_id: str) -> TreatmentEpisode:
        episode = self.get_queryset(request).filter(pk=pk_or_404(object_id)).select_related("patient__site").first()
        if episode is None:
            raise Http404("No such treatment episode.")
        if not self.has_change_permission(request, episode):
            raise PermissionDenied
        return episode

    def done_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        episode = self._episode_or_404(request, object_id)
        form = EpisodeDoneForm(
            request.POST or None, initial={"index_date": min(episode.index_date, site_date(episode.patient.site))}
        )
        if request.method == "POST" and form.is_valid():
            try:
                episode_mark_done(
                    episode=episode,
                    on=form.cleaned_data["index_date"],
                    by=request.user,
                    reason=form.cleaned_data["reason"],
                )
            except ValidationError as exc:
                _form_errors(form, exc)
            else:
                self.message_user(
                    request,
                    gettext("Treatment recorded as done on %(date)s; follow-up is timed from it.")
                    % {"date": form.cleaned_data["index_date"]},
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(reverse("admin:registry_treatmentepisode_change", args=[episode.pk]))
        return self._status_page(request, episode, form, gettext("Record the treatment as done"))

    def cancel_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        episode = self._episode_or_404(request, object_id)
        form = EpisodeCancelForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                episode_cancel(episode=episode, reason=form.cleaned_data["reason"], by=request.user)
            except ValidationError as exc:
                _form_errors(form, exc)
            else:
                self.message_user(
                    request,
                    gettext("Treatment cancelled: its follow-ups are cancelled and no more messages go out."),
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(reverse("admin:registry_treatmentepisode_change", args=[episode.pk]))
        return self._status_page(request, episode, form, gettext("Cancel the planned treatment"))

    def _status_page(
        self, request: HttpRequest, episode: TreatmentEpisode, form: forms.Form, title: str
    ) -> HttpResponse:
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": title,
            "episode": episode,
            "form": form,
        }
        return TemplateResponse(request, "admin/registry/treatmentepisode/status.html", context)

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict | None = None
    ) -> HttpResponse:
        episode = self.get_object(request, unquote(object_id))  # through get_queryset: visible_to(user)
        extra_context = {**(extra_context or {})}
        if episode is not None:
            # What the floors above add to this page (registry.extensions): follow-up's scores over time.
            extra_context["episode_panels"] = [
                {"panel": panel, "content": panel.content(episode, request.user)} for panel in EPISODE_PANELS
            ]
        return super().change_view(request, object_id, form_url, extra_context)


class EpisodeDoneForm(forms.Form):
    index_date = forms.DateField(
        label=_("Date of treatment"),
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("The day of the first administration: the planned date, or the day it really happened."),
    )
    reason = forms.CharField(label=_("Note for the history (optional)"), required=False, max_length=100)


class EpisodeCancelForm(forms.Form):
    reason = forms.CharField(label=_("Why is the treatment cancelled?"), max_length=100)


def _form_errors(form: forms.Form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc)


@admin.register(Administration)
class AdministrationAdmin(ClinicalAdmin):
    list_display = [
        "administered_on",
        "episode",
        "product_type",
        "source",
        "cell_dose_millions",
        "volume_ml",
        "route",
        "image_guidance",
    ]
    list_filter = [
        "product_type",
        "source",
        "route",
        "image_guidance",
        ("episode__patient__site", admin.RelatedOnlyFieldListFilter),
    ]
    search_fields = ["episode__patient__registry_id", "product_name", "device_kit"]
    list_select_related = ["episode", "episode__patient"]
    autocomplete_fields = ["episode"]


@admin.register(AdverseEvent)
class AdverseEventAdmin(ClinicalAdmin):
    list_display = ["onset_date", "episode", "event_type", "grade", "serious", "relatedness", "outcome"]
    list_filter = [
        "event_type",
        "grade",
        "serious",
        "relatedness",
        "outcome",
        ("episode__patient__site", admin.RelatedOnlyFieldListFilter),
    ]
    search_fields = ["episode__patient__registry_id", "description"]
    list_select_related = ["episode", "episode__patient"]
    autocomplete_fields = ["episode"]


@admin.register(SubsequentSurgery)
class SubsequentSurgeryAdmin(ClinicalAdmin):
    list_display = ["surgery_date", "episode", "surgery_type"]
    list_filter = ["surgery_type", ("episode__patient__site", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["episode__patient__registry_id"]
    list_select_related = ["episode", "episode__patient"]
    autocomplete_fields = ["episode"]
