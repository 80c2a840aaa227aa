"""Follow-up scheduling reacts to every save of an episode or a patient, whatever the path (admin, services,
shell), inside the saving transaction. Bulk inserts (seeding) bypass signals and call the bulk service."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from outcomes import services
from outcomes.asking import _wording_usable
from outcomes.models import FollowUp, FollowUpStatus, InstrumentWording
from registry.models import Patient, Site, TreatmentEpisode


@receiver(post_save, sender=TreatmentEpisode, dispatch_uid="outcomes.schedule_episode")
def schedule_episode(sender: Any, instance: TreatmentEpisode, raw: bool = False, **kwargs: Any) -> None:
    if not raw:
        services.follow_ups_schedule(episode=instance)


@receiver(post_save, sender=Patient, dispatch_uid="outcomes.patient_withdrawal")
def patient_withdrawal(sender: Any, instance: Patient, raw: bool = False, **kwargs: Any) -> None:
    if raw:
        return
    if instance.is_withdrawn:
        services.follow_ups_withdraw(patient=instance)
    elif instance.follow_up_stopped:
        services.follow_ups_withdraw(patient=instance, why="no consent to registry follow-up")
    elif FollowUp.objects.filter(episode__patient=instance, status=FollowUpStatus.WITHDRAWN).exists():
        services.follow_ups_reinstate(patient=instance)


@receiver(post_save, sender=Site, dispatch_uid="outcomes.site_value_set")
def site_value_set_changed(sender: Any, instance: Site, raw: bool = False, **kwargs: Any) -> None:
    # A site's country decides its EQ-5D-5L value set unless its settings choose one: its indices follow.
    if not raw:
        services.eq5d5l_rescore_site(site=instance)


@receiver([post_save, post_delete], sender=InstrumentWording, dispatch_uid="outcomes.wording_changed")
def wording_changed(sender: Any, **kwargs: Any) -> None:
    _wording_usable.cache_clear()  # validated once per row version; a save or delete starts afresh
