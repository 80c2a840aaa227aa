"""Pseudonyms are assigned when a patient or an episode is created, whatever the path (admin, services,
shell), inside the creating transaction: a research request never has to look for rows without one. Bulk
inserts (seeding) bypass signals and assign in bulk (research.services.pseudonyms_assign)."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_save
from django.dispatch import receiver

from registry.models import Patient, TreatmentEpisode
from research.services import pseudonym_create


@receiver(post_save, sender=Patient, dispatch_uid="research.patient_pseudonym")
@receiver(post_save, sender=TreatmentEpisode, dispatch_uid="research.episode_pseudonym")
def assign_pseudonym(sender: Any, instance: Any, created: bool, raw: bool = False, **kwargs: Any) -> None:
    if created and not raw:
        pseudonym_create(instance)
