"""Writes of the research side: API keys (created, revoked, used), the log of row-level requests and pseudonym
assignment."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from registry.models import Patient, Site, TreatmentEpisode
from research.models import ApiKey, EpisodePseudonym, RowRequest, SubjectPseudonym, new_pseudonym

KEY_PREFIX = "rk_"
# last_used_at is written at most this often per key, so a client paging quickly does not write on every request.
LAST_USED_RESOLUTION = timedelta(minutes=1)
SUBJECT_PREFIX = "S-"
EPISODE_PREFIX = "E-"


def api_key_hash(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


@transaction.atomic
def api_key_create(
    *,
    name: str,
    sites: Iterable[Site],
    tier: str = ApiKey.Tier.SUMMARY,
    expires_at: datetime | None = None,
    created_by: Any = None,
) -> tuple[ApiKey, str]:
    """Create a key for the given sites and return it with the raw key, which is not stored and cannot be shown
    again (only its SHA-256 digest is kept).

    `tier` defaults to "summary" (aggregates only), the least a key can read: row-level access is asked for by
    name (`tier="rows"`), so no caller hands out rows by forgetting an argument."""
    sites = list(sites)
    if tier not in ApiKey.Tier.values:
        raise ValidationError({"tier": f"Unknown tier {tier!r}: one of {', '.join(ApiKey.Tier.values)}."})
    if not sites:
        raise ValidationError("A key needs at least one site.")
    if not name.strip():
        raise ValidationError(_("Name the key (who holds it, for which study)."))
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError({"expires_at": _("The expiry must be in the future.")})
    raw_key = KEY_PREFIX + secrets.token_urlsafe(32)  # 256 random bits
    key = ApiKey(
        name=name.strip(),
        prefix=raw_key[: len(KEY_PREFIX) + 6],
        key_hash=api_key_hash(raw_key),
        tier=tier,
        expires_at=expires_at,
        created_by=created_by if getattr(created_by, "pk", None) else None,
    )
    key.save()
    key.sites.set(sites)
    return key, raw_key


@transaction.atomic
def api_key_revoke(*, key: ApiKey) -> ApiKey:
    """Revoke a key at once; idempotent (a revoked key keeps its first revocation time)."""
    ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    key.refresh_from_db()
    return key


def api_key_find(*, raw_key: str) -> ApiKey | None:
    """The key with this raw value, usable or not (the caller says why it is refused), or None."""
    if not raw_key.startswith(KEY_PREFIX) or len(raw_key) > 100:
        return None
    return ApiKey.objects.filter(key_hash=api_key_hash(raw_key)).first()


def api_key_touch(*, key: ApiKey, now: datetime | None = None) -> None:
    """Record that the key was used: one conditional UPDATE, skipped if it was recorded within the last minute."""
    now = now or timezone.now()
    if key.last_used_at is not None and now - key.last_used_at < LAST_USED_RESOLUTION:
        return
    ApiKey.objects.filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_RESOLUTION), pk=key.pk
    ).update(last_used_at=now)
    key.last_used_at = now


# A query value that looks like a key is masked before the query string is logged (keys belong in the header).
_KEY_IN_QUERY = re.compile(re.escape(KEY_PREFIX) + r"[A-Za-z0-9_\-%]+")


def row_request_log(
    *, key: ApiKey, method: str, path: str, query: str, status: int, rows: int | None = None
) -> RowRequest:
    """Log one request of a row-level endpoint: one INSERT, in the request. The query string is kept as sent, but
    for anything that looks like a key, and cut to the column's length."""
    return RowRequest.objects.create(
        key=key,
        method=method[:10],
        path=path[:300],
        query=_KEY_IN_QUERY.sub(KEY_PREFIX + "***", query)[:2000],
        status=status,
        rows=rows,
    )


_PSEUDONYMISED = (
    (Patient, SubjectPseudonym, "patient_id", SUBJECT_PREFIX),
    (TreatmentEpisode, EpisodePseudonym, "episode_id", EPISODE_PREFIX),
)


def pseudonym_create(instance: Patient | TreatmentEpisode) -> None:
    """Give a newly created patient or episode its pseudonym, in the transaction that creates it (the
    receivers in research.signals call this on every save that creates one). A clash of two random
    pseudonyms (50 bits) rolls back to a savepoint and tries a new one; the patient's save is never lost to it."""
    found = [entry for entry in _PSEUDONYMISED if isinstance(instance, entry[0])]
    if not found:
        raise TypeError(f"{type(instance).__name__} has no research pseudonym.")
    model, pseudonym_model, field, prefix = found[0]
    for _attempt in range(5):
        try:
            with transaction.atomic():
                pseudonym_model.objects.create(**{field: instance.pk, "pseudonym": new_pseudonym(prefix)})
            return
        except IntegrityError:
            if pseudonym_model.objects.filter(**{field: instance.pk}).exists():
                return  # assigned meanwhile (e.g. a sweep); stable, so keep it
    raise IntegrityError(f"No free pseudonym for {model.__name__} {instance.pk} after 5 tries.")


def pseudonyms_assign(*, full: bool = True) -> tuple[int, int]:
    """Give every patient and every episode without one a random pseudonym; returns how many lacked one.

    Every path that creates a patient or an episode assigns its pseudonym in the same transaction: a save
    through the ORM (the receivers in research.signals) and the bulk seeder (registry.demo). This is the
    backstop, for rows that came another way (a raw SQL import, a restore of an old dump):

    - `full=False`, before every research request: only the rows above the highest id that has a pseudonym,
      found from the two primary-key indexes' ends (well under a millisecond at any size), so data entered a
      moment ago by a path without the receivers is still released under a pseudonym;
    - `full=True` (the periodic task research.tasks and the commands): every row, by anti-join (about 50 ms
      per table at 100,000 patients).

    Concurrent callers may race for the same rows: the unique constraints settle it (the losing insert is
    ignored), and so does the rare clash of two random pseudonyms, after which the loop tries again.
    """
    made = [0, 0]
    for n, (model, pseudonym_model, field, prefix) in enumerate(_PSEUDONYMISED):
        lacking = model.objects.filter(research_pseudonym__isnull=True)
        if not full:
            newest = model.objects.aggregate(m=Max("pk"))["m"]
            covered = pseudonym_model.objects.aggregate(m=Max(field))["m"]
            if newest is None or (covered is not None and newest <= covered):
                continue
            if covered is not None:
                lacking = lacking.filter(pk__gt=covered)
        for attempt in range(5):
            missing = list(lacking.values_list("pk", flat=True))
            if not missing:
                break
            if attempt == 0:
                made[n] = len(missing)
            rows = [pseudonym_model(**{field: pk, "pseudonym": new_pseudonym(prefix)}) for pk in missing]
            pseudonym_model.objects.bulk_create(rows, batch_size=2000, ignore_conflicts=True)
    return made[0], made[1]
