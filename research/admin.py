"""Admin of researcher API keys and the pseudonym tables: the registry administrator's alone.

A key is created here (through `api_key_create`) and its raw value is shown once, on the page that answers the
"Save" — it is never stored, put in a message or a cookie, or shown again. Keys are revoked with an action
(through `api_key_revoke`). The tier (summary: aggregates; rows: row-level data too) is chosen on creation and
shown in the list; it cannot be changed afterwards. The log of row-level requests is read-only. The pseudonym
tables are the re-identification key: read-only, for the registry
administrator, e.g. to find the patient behind a subject ID a researcher reports a data problem with.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from registry.access import is_registry_admin
from research.models import ApiKey, EpisodePseudonym, RowRequest, SubjectPseudonym
from research.services import api_key_create, api_key_revoke

# A key's status (ApiKey.status), as the admin shows it.
KEY_STATUS = {"active": _("active"), "expired": _("expired"), "revoked": _("revoked")}


class RegistryAdminOnly:
    """Visible and usable by the registry administrator only."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return is_registry_admin(request.user)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_registry_admin(request.user)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return is_registry_admin(request.user)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_registry_admin(request.user)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # keys are revoked, not deleted: last use and revocation stay on record


class KeyStatusFilter(admin.SimpleListFilter):
    """Filter by the status the list shows (active, expired, revoked), as ApiKey.status decides it."""

    title = _("status")
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return list(KEY_STATUS.items())

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value()
        if value not in KEY_STATUS:
            return queryset
        if value == "revoked":
            return queryset.filter(revoked_at__isnull=False)
        now = timezone.now()
        standing = queryset.filter(revoked_at__isnull=True)
        if value == "expired":
            return standing.filter(expires_at__lte=now)
        return standing.filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))


class KeySitesFilter(admin.RelatedFieldListFilter):
    """The sites a key reads, without Django's empty choice ("-"): every key reads at least one site."""

    @property
    def include_empty_choice(self) -> bool:
        return False


class ApiKeyForm(forms.ModelForm):
    """A key's name tells the holder and the study apart in the list, the request log and the audit trail: two
    keys in use (not revoked) never share one."""

    class Meta:
        model = ApiKey
        fields = ["name", "tier", "sites", "expires_at"]

    def clean_name(self) -> str:
        name = " ".join(self.cleaned_data["name"].split())
        in_use = ApiKey.objects.filter(name__iexact=name, revoked_at__isnull=True)
        if self.instance.pk is not None:
            in_use = in_use.exclude(pk=self.instance.pk)
        if in_use.exists():
            raise forms.ValidationError(
                gettext(
                    "A key in use is already named “%(name)s”. Name each key by its holder and study, so the "
                    "list and the request log tell them apart; if this key replaces that one, revoke that one first."
                )
                % {"name": name},
                code="duplicate_name",
            )
        return name


@admin.register(ApiKey)
class ApiKeyAdmin(RegistryAdminOnly, admin.ModelAdmin):
    form = ApiKeyForm
    filter_horizontal = ["sites"]
    list_display = [
        "name",
        "prefix",
        "tier",
        "site_codes",
        "status",
        "expires_at",
        "last_used_at",
    ]
    # Who created a key and when are on its page: the list stays within a 1366-pixel screen beside the filters.
    list_filter = [KeyStatusFilter, "tier", "expires_at", ("sites", KeySitesFilter)]
    search_fields = ["name", "prefix"]
    actions = ["revoke"]

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        field = super().formfield_for_manytomany(db_field, request, **kwargs)
        if db_field.name == "sites" and field is not None:
            # Not Django's "Hold down Control ...": the two-box chooser is not a multiple-select list.
            field.help_text = _("The sites whose data the key reads.")
        return field

    def get_readonly_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> list[str]:
        fixed = ["prefix", "status", "created_by", "created_at", "last_used_at", "revoked_at"]
        return fixed if obj is None else ["tier", *fixed]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).prefetch_related("sites")

    def get_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> list[str]:
        if obj is None:
            return ["name", "tier", "sites", "expires_at"]
        return [
            "name",
            "prefix",
            "tier",
            "status",
            "sites",
            "expires_at",
            "created_by",
            "created_at",
            "last_used_at",
            "revoked_at",
        ]

    @admin.display(description=_("sites"))
    def site_codes(self, obj: ApiKey) -> str:
        return ", ".join(sorted(site.code for site in obj.sites.all()))

    @admin.display(description=_("status"))
    def status(self, obj: ApiKey) -> str:
        return str(KEY_STATUS.get(obj.status, obj.status))

    def save_model(self, request: HttpRequest, obj: ApiKey, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        key, raw_key = api_key_create(
            name=form.cleaned_data["name"],
            sites=form.cleaned_data["sites"],
            tier=form.cleaned_data["tier"],
            expires_at=form.cleaned_data.get("expires_at"),
            created_by=request.user,
        )
        # The admin goes on with `obj` (history log, redirect): make it the saved key.
        for field in ApiKey._meta.concrete_fields:
            setattr(obj, field.attname, getattr(key, field.attname))
        obj._state = key._state
        request._research_raw_key = raw_key  # type: ignore[attr-defined]  # shown once by response_add

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        if change:  # a new key got its sites from the service
            super().save_related(request, form, formsets, change)

    def response_add(self, request: HttpRequest, obj: ApiKey, post_url_continue: Any = None) -> HttpResponse:
        raw_key = getattr(request, "_research_raw_key", None)
        if raw_key is None:
            return super().response_add(request, obj, post_url_continue)
        key = ApiKey.objects.prefetch_related("sites").get(pk=obj.pk)
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("API key created"),
            "opts": self.model._meta,
            "key": key,
            "raw_key": raw_key,
            "site_names": ", ".join(f"{s.code} ({s.name})" for s in sorted(key.sites.all(), key=lambda s: s.code)),
            # What the key can be tried on: a summary key is refused rows (403), so it gets a summary.
            "example_path": (
                "/api/v1/scores/?instrument=koos&format=csv"
                if key.reads_rows
                else "/api/v1/summaries/scores/?instrument=koos&key=pain"
            ),
        }
        response = TemplateResponse(request, "admin/research/apikey/created.html", context)
        response["Cache-Control"] = "no-store"
        return response

    @admin.action(description=_("Revoke the selected keys"))
    def revoke(self, request: HttpRequest, queryset: QuerySet) -> None:
        for key in queryset:
            api_key_revoke(key=key)
        count = queryset.count()
        self.message_user(
            request,
            ngettext("Revoked %(count)d key.", "Revoked %(count)d keys.", count) % {"count": count},
            messages.SUCCESS,
        )


@admin.register(RowRequest)
class RowRequestAdmin(RegistryAdminOnly, admin.ModelAdmin):
    """The log of row-level requests: read-only and kept (no add, change or delete)."""

    list_display = ["at", "key", "method", "path", "query", "status", "rows"]
    list_filter = ["status", "at", "key"]
    search_fields = ["path", "query", "key__name", "key__prefix"]
    list_select_related = ["key"]
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class _PseudonymAdmin(RegistryAdminOnly, admin.ModelAdmin):
    list_display = ["pseudonym", "created_at"]
    search_fields = ["pseudonym"]
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(SubjectPseudonym)
class SubjectPseudonymAdmin(_PseudonymAdmin):
    list_display = ["pseudonym", "patient", "created_at"]
    search_fields = ["pseudonym", "patient__registry_id"]
    list_select_related = ["patient"]


@admin.register(EpisodePseudonym)
class EpisodePseudonymAdmin(_PseudonymAdmin):
    list_display = ["pseudonym", "episode", "created_at"]
    search_fields = ["pseudonym", "episode__patient__registry_id"]
    list_select_related = ["episode", "episode__patient"]
