"""API keys for researchers and the pseudonym tables that stand between them and the registry's keys.

These models belong to the `research` app. They began in the `registry` app and keep its tables
(`registry_apikey`, `registry_apikey_sites`, `registry_subjectpseudonym`, `registry_episodepseudonym`): the move
was a change of Django's state only (research/migrations/0001_initial.py), never of the data.

A key is stored as its SHA-256 digest only. The raw key is 256 random bits, so a fast hash is enough (a slow
password hash guards low-entropy secrets; this one cannot be guessed), and it lets the key be found with one
indexed lookup. The first characters (`prefix`) are kept in clear so an administrator can tell keys apart.

Pseudonyms are random (`secrets`), never derived from a primary key, the registry ID or any identifier, and
stable: once assigned, a subject keeps its pseudonym for the registry's lifetime. The mapping is the
re-identification key, so only the registry administrator sees it (read-only, in the admin).
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

__all__ = ["ApiKey", "EpisodePseudonym", "RowRequest", "SubjectPseudonym"]

# Crockford's base32 without I, L, O, U (as registry IDs): unambiguous when read out or typed.
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
PSEUDONYM_LENGTH = 10  # 50 random bits; assignment retries the rare clash


def new_pseudonym(prefix: str) -> str:
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(PSEUDONYM_LENGTH))


class ApiKeyQuerySet(models.QuerySet):
    def usable(self, now=None) -> ApiKeyQuerySet:
        now = now or timezone.now()
        return self.filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now), revoked_at__isnull=True)


class ApiKey(models.Model):
    """A researcher's read-only key to the de-identified API, scoped to one or more sites, in one of two tiers.

    A summary key reads aggregates only (the summaries, perturbed by cell key: research.summaries.cellkey), the
    data dictionary, the data package and the schema. A rows key also reads every row-level dataset (JSON pages,
    CSV, SPSS, Stata) and the FHIR Bulk export; each of those requests is logged (RowRequest). The tier is chosen
    when the key is created and never changes: a researcher who needs the other tier gets a new key."""

    class Tier(models.TextChoices):
        SUMMARY = "summary", _("summary: aggregates only")
        ROWS = "rows", _("rows: aggregates and row-level data")

    name = models.CharField(_("name"), max_length=100, help_text=_("Who holds the key and for which study."))
    prefix = models.CharField(
        _("prefix"), max_length=16, editable=False, help_text=_("The key's first characters, to tell keys apart.")
    )
    key_hash = models.CharField(_("key hash"), max_length=64, unique=True, editable=False)
    sites = models.ManyToManyField(
        "registry.Site",
        verbose_name=_("sites"),
        related_name="api_keys",
        help_text=_("Sites whose data the key reads."),
    )
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
    expires_at = models.DateTimeField(
        _("expires at"), null=True, blank=True, help_text=_("Empty: never expires (not recommended).")
    )
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True, editable=False)
    tier = models.CharField(
        _("tier"),
        max_length=10,
        choices=Tier.choices,
        default=Tier.SUMMARY,
        help_text=_("Summary: aggregates only. Rows: also the row-level datasets, each request logged."),
    )
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True, editable=False)

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        db_table = "registry_apikey"  # kept from the registry app (the many-to-many table follows it)
        ordering = ["-created_at", "-id"]
        verbose_name = _("researcher API key")
        verbose_name_plural = _("researcher API keys")
        constraints = [
            models.CheckConstraint(
                condition=Q(expires_at__isnull=True) | Q(expires_at__gt=models.F("created_at")),
                name="apikey_expires_after_creation",
            ),
            models.CheckConstraint(condition=Q(tier__in=["summary", "rows"]), name="apikey_tier_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    def clean(self) -> None:
        created = self.created_at or timezone.now()
        if self.expires_at is not None and self.expires_at <= created:
            raise ValidationError({"expires_at": _("The expiry must be after the key's creation.")})

    @property
    def reads_rows(self) -> bool:
        return self.tier == self.Tier.ROWS

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()

    @property
    def is_usable(self) -> bool:
        return not self.is_revoked and not self.is_expired

    @property
    def status(self) -> str:
        if self.is_revoked:
            return "revoked"
        if self.is_expired:
            return "expired"
        return "active"


class RowRequest(models.Model):
    """One request of a row-level endpoint made with a key (the research datasets, the FHIR Bulk export), whatever
    its answer (a summary key's refusal is logged too). Written once per request, one INSERT; kept (no one may
    change or delete it in the admin). The path and query carry no key: keys travel in the Authorization header,
    and a query value that looks like one is masked."""

    key = models.ForeignKey(ApiKey, verbose_name=_("key"), on_delete=models.PROTECT, related_name="row_requests")
    at = models.DateTimeField(_("at"), default=timezone.now)
    method = models.CharField(_("method"), max_length=10)
    path = models.CharField(_("path"), max_length=300)
    query = models.CharField(_("query string"), max_length=2000, blank=True)
    status = models.PositiveSmallIntegerField(_("status"))
    rows = models.PositiveIntegerField(
        _("rows returned"), null=True, blank=True, help_text=_("Empty for a streamed file (not counted).")
    )

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("row-level request")
        verbose_name_plural = _("row-level requests")
        indexes = [
            # The admin's list of one key's requests, newest first.
            models.Index(fields=["key", "-at"], name="rowrequest_key_at"),
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.path} ({self.status})"


class SubjectPseudonym(models.Model):
    """The research subject ID of one patient: random, stable, not derived from any identifier or key."""

    patient = models.OneToOneField(
        "registry.Patient", verbose_name=_("patient"), on_delete=models.CASCADE, related_name="research_pseudonym"
    )
    pseudonym = models.CharField(_("pseudonym"), max_length=16, unique=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        db_table = "registry_subjectpseudonym"
        verbose_name = _("subject pseudonym")
        verbose_name_plural = _("subject pseudonyms")

    def __str__(self) -> str:
        return self.pseudonym


class EpisodePseudonym(models.Model):
    """The research episode ID of one treatment episode, random and stable like the subject's."""

    episode = models.OneToOneField(
        "registry.TreatmentEpisode",
        verbose_name=_("episode"),
        on_delete=models.CASCADE,
        related_name="research_pseudonym",
    )
    pseudonym = models.CharField(_("pseudonym"), max_length=16, unique=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        db_table = "registry_episodepseudonym"
        verbose_name = _("episode pseudonym")
        verbose_name_plural = _("episode pseudonyms")

    def __str__(self) -> str:
        return self.pseudonym
