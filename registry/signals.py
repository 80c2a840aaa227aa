"""The episode's copy of its first administration (TreatmentEpisode.first_*) follows every save and delete of an
administration and every save of an episode, whatever the path (admin, services, shell), inside the saving
transaction. Bulk inserts (seeding) bypass signals and set the columns themselves (registry.demo)."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver

from registry.models import Administration, TreatmentEpisode
from registry.services import episodes_first_administration_refresh


@receiver(pre_save, sender=Administration, dispatch_uid="registry.administration_moving")
def administration_moving(sender: Any, instance: Administration, raw: bool = False, **kwargs: Any) -> None:
    # An administration moved to another episode changes the first administration of both.
    instance._episode_before = (
        Administration.objects.filter(pk=instance.pk).values_list("episode_id", flat=True).first()
        if instance.pk and not raw
        else None
    )


@receiver(post_save, sender=Administration, dispatch_uid="registry.administration_saved")
@receiver(post_delete, sender=Administration, dispatch_uid="registry.administration_deleted")
def administration_changed(sender: Any, instance: Administration, raw: bool = False, **kwargs: Any) -> None:
    if not raw:
        before = getattr(instance, "_episode_before", None)
        episodes_first_administration_refresh(episode_ids=[instance.episode_id, before])


@receiver(post_save, sender=TreatmentEpisode, dispatch_uid="registry.episode_saved")
def episode_saved(sender: Any, instance: TreatmentEpisode, raw: bool = False, **kwargs: Any) -> None:
    # A save writes every column from the instance in memory, which may hold an older copy: set it again.
    if not raw:
        episodes_first_administration_refresh(episode_ids=[instance.pk])
        instance.refresh_from_db(fields=["first_product_type", "first_source", "first_cell_dose_millions"])
