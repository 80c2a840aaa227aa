"""The dispatcher: invitations when a window opens, reminders, escalation to the call list and the daily digest,
queued as messages for the outbox (outcomes.outbox), one beat pass at a time (outcomes.tasks).

How it stays exactly-once: it claims follow-ups with SELECT ... FOR UPDATE SKIP LOCKED (PostgreSQL; SQLite
serializes writers), and every patient email has one MessageItem per follow-up with the unique key (follow-up,
kind, round, number). A second dispatcher, a second beat or a repeated pass cannot create the same invitation or
reminder again.
"""

from __future__ import annotations

import logging
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import IntegrityError, connection, transaction
from django.db.models import Count, QuerySet

from outcomes import asking, queue
from outcomes.contact import LIVE, channels_for, settings_for, texts_allowed_from
from outcomes.models import (
    FollowUp,
    Message,
    MessageChannel,
    MessageItem,
    MessageKind,
    MessageStatus,
)
from outcomes.outbox import SENDING_LEASE
from outcomes.services import drafts_settle, follow_ups_refresh_statuses
from registry import clock
from registry.models import Patient, Site

log = logging.getLogger(__name__)


def _locked(qs: QuerySet) -> QuerySet:
    # SKIP LOCKED lets two dispatchers share the work instead of waiting on each other (PostgreSQL).
    if connection.features.has_select_for_update_skip_locked:
        return qs.select_for_update(skip_locked=True, of=("self",))
    return qs


@dataclass
class DispatchReport:
    opened: int = 0
    missed: int = 0
    invitations: int = 0
    reminders: int = 0
    call_listed: int = 0
    digests: int = 0
    cancelled: int = 0
    requeued: int = 0
    kept_unsent: int = 0
    due: list[int] = field(default_factory=list)

    def lines(self) -> list[str]:
        return [
            f"windows opened: {self.opened}, closed unanswered: {self.missed}",
            f"invitations queued (emails and texts): {self.invitations}",
            f"reminders queued (emails and texts): {self.reminders}",
            f"follow-ups put on the call list: {self.call_listed}",
            f"call-list digests queued: {self.digests}",
            f"messages cancelled (answered, withdrawn or closed): {self.cancelled}",
            f"stalled sends put back: {self.requeued}",
            f"follow-ups given the answers a patient saved but could not send: {self.kept_unsent}",
            f"messages due to send now: {len(self.due)}",
        ]


def dispatch(*, now: datetime | None = None, batch: int = 500, due_limit: int = 5000) -> DispatchReport:
    """One pass: move statuses, queue due invitations, reminders and digests, and list messages due to send.

    The emails this pass creates are not queued one task each: they are in `due`, which the caller hands to the
    senders in batches. Up to `due_limit` ids, more than one pass creates, so nothing waits for the next pass."""
    now = now or clock.now()
    report = DispatchReport()
    report.kept_unsent = drafts_settle(now=now)  # before the statuses move: a kept answer makes it partial
    counts = follow_ups_refresh_statuses(now=now)
    report.opened, report.missed = counts["opened"], counts["missed"]
    report.invitations, listed_a = _queue_invitations(now, batch)
    report.reminders, listed_b = _queue_reminders(now, batch)
    report.call_listed = listed_a + listed_b
    report.digests = _queue_digests(now)
    report.requeued = Message.objects.filter(status=MessageStatus.SENDING, claimed_at__lt=now - SENDING_LEASE).update(
        status=MessageStatus.PENDING
    )
    report.due = list(
        Message.objects.filter(status=MessageStatus.PENDING, next_attempt_at__lte=now)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:due_limit]
    )
    return report


def _new_patient_messages(
    kind: str,
    patient: Patient,
    fus: list[FollowUp],
    number: int,
    now: datetime,
    *,
    channels: list[str],
    enqueue: bool = False,
) -> int:
    """Create this message for several follow-ups of a patient, once per channel the patient can be reached by
    (email, text message); returns how many were created (none for a channel where any of the follow-ups already
    had it). A text falling in the site's quiet hours waits until they end. The dispatcher's messages go out
    through its `due` list in batches; `enqueue` queues them at once (staff)."""
    created = 0
    for channel in channels:
        if _new_patient_message(kind, patient, fus, number, now, channel=channel, enqueue=enqueue):
            created += 1
    return created


def _new_patient_message(
    kind: str, patient: Patient, fus: list[FollowUp], number: int, now: datetime, *, channel: str, enqueue: bool
) -> bool:
    first = min(fu.pk for fu in fus)
    key = f"{kind}:{patient.pk}:{first}:{fus[0].contact_round}:{number}"
    text = channel == MessageChannel.SMS
    try:
        with transaction.atomic():
            message = Message.objects.create(
                kind=kind,
                channel=channel,
                site=patient.site,
                patient=patient,
                to_email="" if text else patient.identity.email,
                to_phone=patient.identity.mobile if text else "",
                dedupe_key=f"sms:{key}" if text else key,
                next_attempt_at=texts_allowed_from(patient.site, now) if text else now,
            )
            MessageItem.objects.bulk_create(
                [
                    MessageItem(
                        message=message, follow_up=fu, kind=kind, round=fu.contact_round, number=number, channel=channel
                    )
                    for fu in fus
                ]
            )
    except IntegrityError:
        return False  # another dispatcher got there first
    if enqueue and message.next_attempt_at <= now:
        transaction.on_commit(lambda: _enqueue(message.pk))
    return True


def _enqueue(message_id: int) -> None:
    try:
        queue.message_send_soon(message_id)
    except Exception:  # the broker is down: the next dispatcher pass finds the pending row and queues it again
        log.warning("could not queue message %s; the dispatcher will retry", message_id)


def _queue_invitations(now: datetime, batch: int) -> tuple[int, int]:
    """Invite for follow-ups whose window is open today at their site, one email per patient for all of them.
    A follow-up with nothing the patient can answer by link gets no email: nothing at all when only the
    clinician's examination is owed, the call list when the patient's questionnaires have no wording in their
    language (staff collect them by phone, on paper or in the clinic)."""
    sent = listed = 0
    with transaction.atomic():
        due = list(
            _locked(
                FollowUp.objects.filter(
                    status__in=LIVE, invited_at__isnull=True, window_closes__gte=asking.earliest_local_date(now)
                )
            )
            .select_related("episode__patient__site", "episode__patient__identity")
            .order_by("window_closes", "pk")[:batch]
        )
        asks = asking.asked(due, now=now)
        by_patient: dict[int, list[FollowUp]] = defaultdict(list)
        touched: list[FollowUp] = []
        for fu in due:
            today = asking.local_date(fu.episode.patient.site, now)
            if today < fu.window_opens:
                continue  # open in the database, not yet at the site (time zones): a later pass
            a = asks[fu.pk]
            fu.invited_at = now
            touched.append(fu)
            if a.by_link:
                by_patient[fu.episode.patient_id].append(fu)
            elif a.staff_only:
                fu.call_list_since, fu.next_reminder_at = now, None  # no wording to send: staff collect it
                listed += 1
            # else: closed at the site, or only the clinician's examination is owed: no email
        for fus in by_patient.values():
            patient = fus[0].episode.patient
            policy = settings_for(patient.site)
            days = policy.reminder_day_list()
            for fu in fus:
                fu.next_reminder_at = now + timedelta(days=days[0] if days else policy.call_after_days)
            if channels := channels_for(patient):
                sent += _new_patient_messages(MessageKind.INVITATION, patient, fus, 0, now, channels=channels)
            else:
                # No message possible (no address or number, no consent, opted out): straight to the call list.
                for fu in fus:
                    fu.call_list_since, fu.next_reminder_at = now, None
                listed += len(fus)
        FollowUp.objects.bulk_update(touched, ["invited_at", "next_reminder_at", "call_list_since"])
    return sent, listed


def _queue_reminders(now: datetime, batch: int) -> tuple[int, int]:
    """Reminders for follow-ups that still ask the patient something by link and whose window is open today.
    Nothing left for the patient (only the clinician's examination, say) or a closed window: reminders stop."""
    sent = listed = 0
    with transaction.atomic():
        due = list(
            _locked(FollowUp.objects.filter(status__in=LIVE, next_reminder_at__lte=now))
            .select_related("episode__patient__site", "episode__patient__identity")
            .order_by("next_reminder_at", "pk")[:batch]
        )
        asks = asking.asked(due, now=now)
        groups: dict[tuple[int, int], list[FollowUp]] = defaultdict(list)
        reachable: dict[int, list[str]] = {}
        for fu in due:
            a = asks[fu.pk]
            if not a.by_link:
                fu.next_reminder_at = None
                if a.staff_only and fu.call_list_since is None:
                    fu.call_list_since = now
                    listed += 1
                continue
            policy = settings_for(fu.episode.patient.site)
            days = policy.reminder_day_list()
            number = fu.reminders_sent + 1
            invited = fu.invited_at or now
            patient_id = fu.episode.patient_id
            if patient_id not in reachable:  # one query per patient, not per follow-up
                reachable[patient_id] = channels_for(fu.episode.patient)
            if number <= len(days) and reachable[patient_id]:
                fu.reminders_sent, fu.last_reminded_at = number, now
                later = days[number] if number < len(days) else policy.call_after_days
                fu.next_reminder_at = invited + timedelta(days=later)
                groups[(fu.episode.patient_id, number)].append(fu)
            else:
                fu.call_list_since, fu.next_reminder_at = now, None
                listed += 1
        for (patient_id, number), fus in groups.items():
            sent += _new_patient_messages(
                MessageKind.REMINDER, fus[0].episode.patient, fus, number, now, channels=reachable[patient_id]
            )
        FollowUp.objects.bulk_update(due, ["reminders_sent", "last_reminded_at", "next_reminder_at", "call_list_since"])
    return sent, listed


def _queue_digests(now: datetime) -> int:
    queued = 0
    counts = (
        FollowUp.objects.filter(status__in=LIVE, call_list_since__isnull=False)
        .values("episode__patient__site")
        .annotate(n=Count("pk"))
    )
    for row in counts:
        site = Site.objects.get(pk=row["episode__patient__site"])
        policy = settings_for(site)
        local = now.astimezone(zoneinfo.ZoneInfo(site.time_zone))
        if local.hour < policy.digest_hour:
            continue
        key = f"digest:{site.pk}:{local.date().isoformat()}"
        try:
            with transaction.atomic():
                Message.objects.create(
                    kind=MessageKind.DIGEST, site=site, dedupe_key=key, next_attempt_at=now, context={"count": row["n"]}
                )
        except IntegrityError:
            continue  # today's digest exists
        queued += 1  # sent through the pass's `due` list
    return queued


@transaction.atomic
def message_resend(*, follow_up: FollowUp, by: object = None) -> Message | None:
    """Staff resend the link for an unanswered follow-up: a fresh email (and text, for a patient who takes texts)
    with a fresh token. Returns the first message queued."""
    fu = (
        FollowUp.objects.select_for_update(of=("self",))
        .select_related("episode__patient__identity", "episode__patient__site")
        .get(pk=follow_up.pk)
    )
    if fu.status not in LIVE:
        raise ValueError("Only an open follow-up can be sent its link again.")
    patient = fu.episode.patient
    if not (channels := channels_for(patient)):
        raise ValueError(
            "This patient cannot be sent a message (no address or mobile number, no consent, opted out or withdrawn)."
        )
    number = 1000 + fu.message_items.filter(number__gte=1000).values("number").distinct().count()  # from 1000
    now = clock.now()
    if not _new_patient_messages(MessageKind.INVITATION, patient, [fu], number, now, channels=channels, enqueue=True):
        raise ValueError("A resend is already queued.")
    return Message.objects.filter(items__follow_up=fu, items__number=number).order_by("pk").first()
