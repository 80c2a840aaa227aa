"""A site's integration key (a record system posting answers and reading its own patients over FHIR) and the
researchers' Bulk Data exports.

An integration key is stored as its SHA-256 digest only, as researchers' API keys are (research/models.py): the
raw key is 256 random bits, shown once when it is created; the prefix stays in clear to tell keys apart.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class IntegrationKeyQuerySet(models.QuerySet):
    def usable(self) -> IntegrationKeyQuerySet:
        return self.filter(revoked_at__isnull=True, site__active=True)


class IntegrationKey(models.Model):
    """A site's key for its record system or patient app: reads that site's patients, posts their answers."""

    name = models.CharField(_("name"), max_length=100, help_text=_("Which system holds the key."))
    site = models.ForeignKey(
        "registry.Site", verbose_name=_("site"), on_delete=models.PROTECT, related_name="integration_keys"
    )
    prefix = models.CharField(_("prefix"), max_length=16, editable=False)
    key_hash = models.CharField(_("key hash"), max_length=64, unique=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True, editable=False)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True, editable=False)

    objects = IntegrationKeyQuerySet.as_manager()
    SITE_PATH = "site"

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("integration key")
        verbose_name_plural = _("integration keys")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None


class ExportStatus(models.TextChoices):
    IN_PROGRESS = "in_progress", "In progress"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class BulkExport(models.Model):
    """One `$export` kick-off: its status, and the NDJSON files once built (under FHIR_EXPORT_DIR/<id>/)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    api_key = models.ForeignKey("research.ApiKey", on_delete=models.CASCADE, related_name="fhir_exports")
    status = models.CharField(max_length=12, choices=ExportStatus.choices, default=ExportStatus.IN_PROGRESS)
    request_url = models.CharField(max_length=500)
    types = models.JSONField(default=list, help_text="The resource types asked for (_type), in file order.")
    requested_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    files = models.JSONField(default=list, help_text="[{type, count}] of the NDJSON files, once built.")
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-requested_at"]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=ExportStatus.values), name="bulkexport_status_valid"),
        ]
        indexes = [
            # The kick-off counts a key's exports still in progress (at most a few at once).
            models.Index(fields=["api_key", "status"], name="bulkexport_key_status"),
        ]

    def __str__(self) -> str:
        return f"$export {self.pk} ({self.status})"
