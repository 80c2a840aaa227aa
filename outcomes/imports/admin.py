"""Imports of a clinic's earlier records in the admin: the upload page (file, REDCap data dictionary, mapping, dry
run or not), the run's page with its progress and report, and "Import these rows" after a dry run found nothing
wrong. The work runs in the Celery worker (outcomes.tasks.import_run); the page refreshes while it runs.

Registered by outcomes.apps.ready (outcomes.admin does not import this module). A run is for one of the user's own
sites (registry.access); another site's run is not found.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from outcomes import queue
from outcomes.imports.mapping import MappingError
from outcomes.imports.services import import_run_commit, import_run_create
from outcomes.models import ImportRun, ImportStatus
from registry.access import pk_or_404, sites_visible_to
from registry.admin import SiteScopedAdminMixin

# Largest file taken from the upload page (a clinic's whole REDCap project is a few megabytes).
MAX_UPLOAD = 20 * 1024 * 1024


class ImportUploadForm(forms.Form):
    site = forms.ModelChoiceField(queryset=None, label=gettext_lazy("Site"))
    records = forms.FileField(
        label=gettext_lazy("Records"),
        help_text=gettext_lazy("A spreadsheet (.xlsx or .csv), or a REDCap records export (CSV, raw data)."),
    )
    dictionary = forms.FileField(
        label=gettext_lazy("REDCap data dictionary"),
        required=False,
        help_text=gettext_lazy("REDCap only: the project's data dictionary (CSV)."),
    )
    mapping = forms.FileField(
        label=gettext_lazy("Mapping"),
        help_text=gettext_lazy("JSON or YAML: which column is which field, and what their codes mean."),
    )
    dry_run = forms.BooleanField(
        label=gettext_lazy("Dry run: check every row, import nothing"), required=False, initial=True
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        sites = sites_visible_to(user).order_by("code")
        self.fields["site"].queryset = sites
        if sites.count() == 1:
            self.fields["site"].initial = sites.first()

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        for name in ("records", "dictionary", "mapping"):
            upload = cleaned.get(name)
            if upload is not None and upload.size > MAX_UPLOAD:
                self.add_error(name, _("The file is larger than 20 MB."))
        return cleaned


@admin.register(ImportRun)
class ImportRunAdmin(SiteScopedAdminMixin, admin.ModelAdmin):
    list_display = ["file_name", "site", "kind", "status", "rows_total", "problem_count", "user", "created_at"]
    list_filter = ["status", "dry_run"]
    search_fields = ["file_name", "sha256", "source"]
    list_select_related = ["site", "user"]
    readonly_fields = ["file_name", "sha256", "site", "user", "status"]

    @admin.display(description=gettext_lazy("kind"))
    def kind(self, run: ImportRun) -> str:
        return _("dry run") if run.dry_run else _("import")

    @admin.display(description=gettext_lazy("problems"))
    def problem_count(self, run: ImportRun) -> int:
        return len(run.report or [])

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a run is a record of what happened; its page is read-only

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_urls(self) -> list:
        extra = [
            path(
                "<path:object_id>/commit/",
                self.admin_site.admin_view(self.commit_view),
                name="outcomes_importrun_commit",
            ),
        ]
        return extra + super().get_urls()

    def _visible(self, request: HttpRequest, object_id: str) -> ImportRun:
        run = self.get_queryset(request).filter(pk=pk_or_404(object_id)).select_related("site", "user").first()
        if run is None:
            raise Http404(_("No such import."))
        return run

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: Any = None) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = ImportUploadForm(request.POST or None, request.FILES or None, user=request.user)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            dictionary = data.get("dictionary")
            try:
                run = import_run_create(
                    site=data["site"],
                    user=request.user,
                    file_name=data["records"].name,
                    content=data["records"].read(),
                    mapping=data["mapping"].read(),
                    dictionary=dictionary.read() if dictionary else None,
                    dictionary_name=dictionary.name if dictionary else "",
                    dry_run=data["dry_run"],
                    language=getattr(request, "LANGUAGE_CODE", "en"),
                )
            except MappingError as exc:
                for message in exc.problems:
                    form.add_error("mapping", message)
            else:
                queue.import_run_soon(run.pk)
                return HttpResponseRedirect(reverse("admin:outcomes_importrun_change", args=[run.pk]))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Import earlier records"),
            "form": form,
            "has_view_permission": self.has_view_permission(request),
        }
        return TemplateResponse(request, "admin/outcomes/importrun/upload.html", context)

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        run = self._visible(request, object_id)
        percent = 100 * run.rows_done // run.rows_total if run.rows_total else 0
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": run,
            "title": str(run),
            "run": run,
            "percent": percent,
            "can_commit": _committable(run) and self.has_add_permission(request),
            "counts": _counts(run),
            "has_view_permission": True,
        }
        return TemplateResponse(request, "admin/outcomes/importrun/run.html", context)

    def commit_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Import the rows of a dry run that found no problem (POST)."""
        run = self._visible(request, object_id)
        back = reverse("admin:outcomes_importrun_change", args=[run.pk])
        if request.method != "POST":
            return HttpResponseRedirect(back)
        if not self.has_add_permission(request):
            raise PermissionDenied
        if not _committable(run):
            self.message_user(request, _("Only a finished dry run without problems can be imported."), messages.ERROR)
            return HttpResponseRedirect(back)
        real = import_run_commit(run=run, user=request.user)
        queue.import_run_soon(real.pk)
        self.message_user(request, _("Importing the rows of %(file)s.") % {"file": run.file_name}, messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:outcomes_importrun_change", args=[real.pk]))


def _committable(run: ImportRun) -> bool:
    return run.dry_run and run.status == ImportStatus.DONE and not run.report and run.content is not None


def _counts(run: ImportRun) -> list[tuple[str, int]]:
    """The run's counts, in words, in a fixed order."""
    words = [
        ("rows", _("rows in the file")),
        ("records", _("records (patients)")),
        ("patients", _("new patients")),
        ("follow_ups", _("follow-ups answered")),
        ("responses", _("questionnaires scored")),
        ("already_imported", _("rows imported before (left as they are)")),
        ("no_answers", _("rows without answers")),
    ]
    return [(label, run.counts[key]) for key, label in words if key in (run.counts or {})]
