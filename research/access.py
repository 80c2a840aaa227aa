"""Which rows a researcher's key may read: one function decides, every research view, export and summary calls it.

`research_queryset(Model, key)` is the rule, the research twin of `registry.access.sites_visible_to` for staff:

- only the key's sites (through the model's `SITE_PATH`, as the staff side);
- only patients who consent to research use (`Patient.consent_research`), with consent recorded (a patient still
  to answer the site's consent document, or who declined it, is not released);
- no patient who has withdrawn consent (`Patient.withdrawn_on` set), not even rows recorded before the
  withdrawal. DOMAIN.md says withdrawal stops all follow-up and contact; for research use the registry takes
  the stricter reading (a data-protection officer's): a withdrawn patient's data is no longer released. Analyses
  must treat withdrawal as a reason for missing data, which the dictionary says.
- only treatments that happened (episode status done): a planned or cancelled treatment is not released, nor
  the baseline answered before a planned one;
- nothing at all for a revoked or expired key (authentication refuses such a key first; this is the backstop).
- with a research replica configured (research/dbrouter.py), only rows whose pseudonyms have reached the
  replica: pseudonyms are assigned on the primary at the start of each request, and a replica may lag by a
  moment, so a row is released a moment later rather than without its pseudonym.
"""

from __future__ import annotations

from typing import Any

from django.db import models

from research.dbrouter import replica_configured
from research.models import ApiKey


def patient_path(model: type[models.Model]) -> str:
    """The lookup from `model` to its Patient ("" for Patient itself), derived from its SITE_PATH."""
    site_path = model.SITE_PATH  # type: ignore[attr-defined]
    if site_path == "site":
        return ""
    if not site_path.endswith("__site"):
        raise ValueError(f"{model.__name__} is not a patient-level model (SITE_PATH {site_path!r}).")
    return site_path.removesuffix("__site")


def research_queryset(model: type[models.Model], key: ApiKey | None) -> models.QuerySet:
    """The rows of `model` that `key` may read (see the module docstring for the rule)."""
    manager = model._default_manager
    if key is None or not key.is_usable:
        return manager.none()
    site_path = model.SITE_PATH  # type: ignore[attr-defined]
    patient = patient_path(model)
    prefix = f"{patient}__" if patient else ""
    rules = {
        f"{site_path}__in": key.sites.values("pk"),
        f"{prefix}consent_research": True,
        f"{prefix}consent_date__isnull": False,  # consent recorded: not one still to be asked by the patient
        f"{prefix}withdrawn_on__isnull": True,
    }
    episode = episode_path(model)
    if episode is not None:
        # Only treatments that happened: a planned one (its baseline may be answered) or a cancelled one is not
        # a treatment to study.
        rules[f"{episode}status"] = "done"
    if replica_configured():
        rules[f"{prefix}research_pseudonym__isnull"] = False
        if episode is not None:
            rules[f"{episode}research_pseudonym__isnull"] = False
    return manager.filter(**rules)


def episode_path(model: type[models.Model]) -> str | None:
    """The lookup prefix from `model` to its TreatmentEpisode ("" for the episode itself), or None."""
    if model._meta.label == "registry.TreatmentEpisode":
        return ""
    head, sep, _ = model.SITE_PATH.partition("episode__")  # type: ignore[attr-defined]
    return head + "episode__" if sep else None


def registry_research_queryset(model: Any) -> Any:
    """The registry administrator's release: every site, otherwise `research_queryset`'s rule (consent to research
    use, not withdrawn). Kept beside it: a change there must be mirrored here (a test compares)."""
    patient = patient_path(model)
    prefix = f"{patient}__" if patient else ""
    rules = {
        f"{prefix}consent_research": True,
        f"{prefix}consent_date__isnull": False,
        f"{prefix}withdrawn_on__isnull": True,
    }
    episode = episode_path(model)
    if episode is not None:
        rules[f"{episode}status"] = "done"  # only treatments that happened, as research_queryset
    return model._default_manager.filter(**rules)
