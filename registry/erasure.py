"""Erasure of what identifies one patient, wherever the database keeps it (anonymisation's second half).

`registry.services.patient_anonymise` first overwrites the fields that *are* identity (the identity row, the
withdrawal reason, each app's contact fields through `registry.extensions.PATIENT_DATA`). Then this module looks
for the patient's identifying values (`identifying_values`: names, email, phones, record number, birth date in
its usual spellings) as whole words, case-insensitively, and replaces them by "anonymised" in:

- every text column of every row that belongs to the patient, in any app, and of the history of those rows
  (`patient_rows`: the rows found by following foreign keys to the patient, then to those rows, and so on; a
  history row belongs by the id of the row it records, so the history of a deleted episode is found too). That
  reaches change reasons, adverse-event descriptions, notes and any free text added later, without a list to
  keep up to date;
- Django's admin log, all of it (the object shown and the change message: Django writes the identity inline's
  name into every edit of the patient, and other pages may name the patient too);
- sessions: a value that holds one of them is removed from the session (a staff member's pending "Moss, Jane
  was changed" message); the session stays.

What it cannot know: a name typed in another spelling than the identity's ("Jane M."), or a relative's name. The
free text that is *about* the person (withdrawal reason, call notes) is therefore erased outright, not scrubbed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

from django.apps import apps
from django.db import models

ANONYMISED = "anonymised"
MIN_DIGITS = 7  # a phone number without its punctuation, if at least this long


def identifying_values(identity: Any) -> list[str]:
    """The identity's values as they may have been typed or logged: each name, "Family, Given", "Given Family",
    email, phone (also its digits alone), mobile, record number and birth date (ISO, d/m/Y, m/d/Y, d.m.Y)."""
    values = [identity.given_name, identity.family_name, str(identity), f"{identity.given_name} {identity.family_name}"]
    values += [identity.email, identity.phone, identity.mobile, identity.medical_record_number]
    for phone in (identity.phone, identity.mobile):
        digits = re.sub(r"\D", "", phone or "")
        if len(digits) >= MIN_DIGITS:
            values.append(digits)
    born = identity.date_of_birth
    if born:
        values += [born.isoformat(), born.strftime("%d/%m/%Y"), born.strftime("%m/%d/%Y"), born.strftime("%d.%m.%Y")]
    plain = {v.strip() for v in values if v and v.strip() and v.strip() not in ("—", ANONYMISED)}
    # JSON (the admin log's change message) stores names outside ASCII \u-escaped.
    return sorted(plain | {json.dumps(v)[1:-1] for v in plain}, key=len, reverse=True)


def pattern(values: Iterable[str]) -> re.Pattern[str] | None:
    """Any of the values as a whole word (not inside a longer word or number), ignoring case."""
    values = list(values)
    if not values:
        return None
    return re.compile(r"(?<!\w)(?:" + "|".join(re.escape(v) for v in values) + r")(?!\w)", re.IGNORECASE)


def _owner(model: type[models.Model]) -> type[models.Model]:
    """The model whose rows a model's rows stand for: a historical model's tracked model, else itself."""
    return getattr(model, "instance_type", model)


def patient_rows(patient: models.Model) -> dict[type[models.Model], set[Any]]:
    """The ids of every row that belongs to the patient, by model (live models; their history belongs by the same
    ids). Found by following foreign keys towards the patient until nothing new turns up."""
    patient_model = type(patient)
    owned: dict[type[models.Model], set[Any]] = {patient_model: {patient.pk}}
    every = [m for m in apps.get_models() if not m._meta.proxy]
    changed = True
    while changed:
        changed = False
        for model in every:
            owner = _owner(model)
            key = owner._meta.pk.attname
            for field in model._meta.concrete_fields:
                target = field.related_model if field.is_relation else None
                if target is None or target not in owned:
                    continue
                found = set(
                    model._base_manager.filter(**{f"{field.attname}__in": owned[target]}).values_list(key, flat=True)
                )
                new = found - owned.get(owner, set())
                if new:
                    owned.setdefault(owner, set()).update(new)
                    changed = True
    return owned


def _text_fields(model: type[models.Model]) -> list[models.Field]:
    """Columns that may hold typed text: character and text fields without fixed choices, not keys (a unique
    column is a code or a hash the registry made)."""
    return [
        f
        for f in model._meta.concrete_fields
        if isinstance(f, models.CharField | models.TextField) and not f.choices and not f.primary_key and not f.unique
    ]


def _scrub_queryset(queryset: models.QuerySet, found: re.Pattern[str]) -> int:
    fields = _text_fields(queryset.model)
    if not fields:
        return 0
    pk = queryset.model._meta.pk.attname
    changed = 0
    for row in queryset.values(pk, *(f.attname for f in fields)).iterator():
        values = {}
        for f in fields:
            value = row[f.attname]
            if isinstance(value, str) and found.search(value):
                values[f.attname] = found.sub(ANONYMISED, value)[: f.max_length or None]
        if values:
            queryset.model._base_manager.filter(pk=row[pk]).update(**values)
            changed += 1
    return changed


def history_models(model: type[models.Model]) -> Iterator[type[models.Model]]:
    for candidate in apps.get_models():
        if getattr(candidate, "instance_type", None) is model:
            yield candidate


def scrub_patient_rows(owned: dict[type[models.Model], set[Any]], found: re.Pattern[str]) -> int:
    """Replace the values in every text column of the patient's rows and of their history. On PostgreSQL the
    caller has allowed this transaction to update history (registry.audit)."""
    changed = 0
    for model, ids in owned.items():
        if _owner(model) is not model:
            continue
        changed += _scrub_queryset(model._base_manager.filter(pk__in=ids), found)
        for history in history_models(model):
            changed += _scrub_queryset(history._base_manager.filter(**{f"{model._meta.pk.attname}__in": ids}), found)
    return changed


def scrub_admin_log(values: list[str], found: re.Pattern[str]) -> int:
    """Every admin log entry that shows or mentions one of the values, wherever it points."""
    from django.contrib.admin.models import LogEntry

    mentions = models.Q()
    for value in values:
        mentions |= models.Q(object_repr__icontains=value) | models.Q(change_message__icontains=value)
    changed = 0
    for entry in LogEntry.objects.filter(mentions).only("pk", "object_repr", "change_message"):
        shown, message = found.sub(ANONYMISED, entry.object_repr), found.sub(ANONYMISED, entry.change_message)
        if (shown, message) != (entry.object_repr, entry.change_message):
            LogEntry.objects.filter(pk=entry.pk).update(object_repr=shown[:200], change_message=message)
            changed += 1
    return changed


def scrub_sessions(found: re.Pattern[str]) -> int:
    """Remove from every unexpired database session a value that holds one of the identity's values."""
    if not apps.is_installed("django.contrib.sessions"):
        return 0
    from django.contrib.sessions.models import Session
    from django.utils import timezone

    changed = 0
    for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator():
        data = session.get_decoded()
        kept = {k: v for k, v in data.items() if not found.search(json.dumps(v, default=str, ensure_ascii=False))}
        kept = {k: v for k, v in kept.items() if not found.search(json.dumps(v, default=str))}
        if kept != data:
            Session.objects.filter(pk=session.pk).update(session_data=Session.objects.encode(kept))
            changed += 1
    return changed
