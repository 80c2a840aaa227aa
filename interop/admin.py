"""Admin of the sites' integration keys: the registry administrator's alone, as researchers' API keys are.

A key is created here (through `integration_key_create`) and its raw value is shown once, on the page that
answers the "Save"; it is never stored or shown again. Keys are revoked with an action, never deleted.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from interop.models import IntegrationKey
from interop.services import integration_key_create, integration_key_revoke
from registry.access import is_registry_admin


@admin.register(IntegrationKey)
class IntegrationKeyAdmin(admin.ModelAdmin):
    list_display = ["name", "prefix", "site", "status", "last_used_at", "created_by", "created_at"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter), "site"]
    search_fields = ["name", "prefix"]
    list_select_related = ["site", "created_by"]
    readonly_fields = ["prefix", "status", "created_by", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    def has_module_permission(self, request: HttpRequest) -> bool:
        return is_registry_admin(request.user)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_registry_admin(request.user)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return is_registry_admin(request.user)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_registry_admin(request.user)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # revoked, not deleted: the history of answers names the key

    def get_fields(self, request: HttpRequest, obj: IntegrationKey | None = None) -> list[str]:
        if obj is None:
            return ["name", "site"]
        return ["name", "site", "prefix", "status", "created_by", "created_at", "last_used_at", "revoked_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: IntegrationKey | None = None) -> list[str]:
        return [*self.readonly_fields, "site"] if obj is not None else self.readonly_fields

    @admin.display(description=_("status"))
    def status(self, obj: IntegrationKey) -> str:
        return str(_("revoked") if obj.is_revoked else _("active"))

    def save_model(self, request: HttpRequest, obj: IntegrationKey, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        key, raw_key = integration_key_create(
            name=form.cleaned_data["name"], site=form.cleaned_data["site"], created_by=request.user
        )
        for field in IntegrationKey._meta.concrete_fields:
            setattr(obj, field.attname, getattr(key, field.attname))
        obj._state = key._state
        request._integration_raw_key = raw_key  # type: ignore[attr-defined]  # shown once by response_add

    def response_add(self, request: HttpRequest, obj: IntegrationKey, post_url_continue: Any = None) -> HttpResponse:
        raw_key = getattr(request, "_integration_raw_key", None)
        if raw_key is None:
            return super().response_add(request, obj, post_url_continue)
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Integration key created"),
            "opts": self.model._meta,
            "key": IntegrationKey.objects.select_related("site").get(pk=obj.pk),
            "raw_key": raw_key,
        }
        response = TemplateResponse(request, "admin/interop/integrationkey/created.html", context)
        response["Cache-Control"] = "no-store"
        return response

    @admin.action(description=_("Revoke the selected keys"))
    def revoke(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = 0
        for key in queryset:
            integration_key_revoke(key=key)
            count += 1
        self.message_user(
            request,
            ngettext("Revoked %(count)d key.", "Revoked %(count)d keys.", count) % {"count": count},
            messages.SUCCESS,
        )
