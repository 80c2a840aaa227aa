"""Who may be contacted and how contact follows the schedule: the site's contact settings, the patients who can be
written to and by which channel (email, text message), text messages' quiet hours, the opt-out, a moved or
cancelled window's messages and links, and the call list.

The dispatcher (outcomes.dispatcher) queues the messages; the outbox (outcomes.outbox) sends them.
"""

from __future__ import annotations

import hashlib
import logging
import zoneinfo
from datetime import datetime, time, timedelta

from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet

from outcomes import asking
from outcomes.models import (
    AccessToken,
    Draft,
    EmailOptOut,
    FollowUp,
    FollowUpSettings,
    FollowUpStatus,
    Message,
    MessageChannel,
    MessageItem,
    MessageStatus,
    TokenChannel,
)
from registry import clock
from registry.models import ConsentDocument, ContactChannel, Patient, Site

log = logging.getLogger(__name__)

LIVE = asking.LIVE


def token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def settings_for(site: Site) -> FollowUpSettings:
    try:
        return site.follow_up_settings
    except FollowUpSettings.DoesNotExist:
        return FollowUpSettings(site=site)


# Text messages never go out between 21:00 and 08:00 at the site (its time zone).
QUIET_FROM = time(21, 0)
QUIET_UNTIL = time(8, 0)


def contactable_patients(channel: str = MessageChannel.EMAIL) -> QuerySet[Patient]:
    """The patients who may be contacted now by this channel. Email: an address, email among their channels,
    consent to email and follow-up (or consent not yet recorded, and a consent document at the site to ask it
    by the first link). Text message: a mobile number, text among their channels, consent to
    follow-up. Both: not withdrawn, not opted out (one opt-out, by link, STOP or staff, stops both channels).
    The one definition; the sender checks it again in SQL right before each message goes out."""
    asks_consent = Exists(ConsentDocument.objects.filter(site=OuterRef("site"), active=True))
    common = Patient.objects.filter(
        Q(consent_date__isnull=False, consent_follow_up=True) | Q(asks_consent, consent_date__isnull=True),
        withdrawn_on__isnull=True,
        email_opt_out__isnull=True,
    )
    if channel == MessageChannel.SMS:
        return common.filter(identity__mobile__gt="", contact_channel__in=ContactChannel.texts())
    return common.filter(identity__email__gt="", consent_email=True, contact_channel__in=ContactChannel.emails())


def channels_for(patient: Patient) -> list[str]:
    """The channels this patient may be contacted by now, email first (one query)."""
    row = (
        Patient.objects.filter(pk=patient.pk)
        .annotate(**{c: Exists(contactable_patients(c).filter(pk=OuterRef("pk"))) for c in MessageChannel.values})
        .values(*MessageChannel.values)
        .first()
    )
    return [c for c in MessageChannel.values if row and row[c]]


def contactable(patient: Patient) -> bool:
    """May this patient be contacted now by any channel?"""
    return bool(channels_for(patient))


def texts_allowed_from(site: Site, now: datetime) -> datetime:
    """`now` if a text may go out now at the site, else the end of its quiet hours (08:00 there)."""
    local = now.astimezone(zoneinfo.ZoneInfo(site.time_zone))
    if QUIET_UNTIL <= local.time() < QUIET_FROM:
        return now
    day = local.date() if local.time() < QUIET_UNTIL else local.date() + timedelta(days=1)
    return datetime.combine(day, QUIET_UNTIL, tzinfo=local.tzinfo).astimezone(now.tzinfo)


def live_items() -> QuerySet[MessageItem]:
    """Items whose follow-up still wants its email: open or partly answered, and in the round it was queued for."""
    return MessageItem.objects.filter(follow_up__status__in=LIVE, follow_up__contact_round=F("round"))


@transaction.atomic
def patient_opt_out(*, patient: Patient, source: str) -> bool:
    """Record the opt-out and cancel every unsent message to the patient, emails and texts. Returns False if
    already opted out."""
    _, created = EmailOptOut.objects.get_or_create(
        patient=patient, defaults={"source": source, "opted_out_at": clock.now()}
    )
    Message.objects.filter(patient=patient, status=MessageStatus.PENDING).update(
        status=MessageStatus.CANCELLED, last_error="patient opted out"
    )
    return created


def contact_reset_for_moved(*, follow_up: FollowUp) -> None:
    """The index date moved a follow-up's window. If it is no longer open, contact starts afresh for the new
    window: a new round, no invitation yet, unsent emails cancelled."""
    if follow_up.invited_at is None or follow_up.status in LIVE:
        return
    Message.objects.filter(status=MessageStatus.PENDING, items__follow_up=follow_up).update(
        status=MessageStatus.CANCELLED, last_error="the index date moved the window"
    )
    follow_up.contact_round += 1
    follow_up.invited_at = follow_up.next_reminder_at = follow_up.last_reminded_at = follow_up.call_list_since = None
    follow_up.reminders_sent = 0


def contact_after_schedule(*, follow_ups: list[FollowUp]) -> None:
    """After an episode's follow-ups were (re)scheduled: emails waiting for follow-ups that no longer ask
    anything are cancelled (a cancelled treatment stops every message), drafts of cancelled follow-ups go, and
    personal links follow the windows they cover when a planned date moves."""
    dead = [fu.pk for fu in follow_ups if fu.status not in LIVE and fu.status != FollowUpStatus.SCHEDULED]
    if dead:
        waiting = Message.objects.filter(status=MessageStatus.PENDING, items__follow_up__in=dead).exclude(
            Exists(live_items().filter(message=OuterRef("pk")))
        )
        Message.objects.filter(pk__in=list(waiting.values_list("pk", flat=True))).update(
            status=MessageStatus.CANCELLED, last_error="the follow-ups it covered were cancelled or closed"
        )
        cancelled = [fu.pk for fu in follow_ups if fu.status == FollowUpStatus.CANCELLED]
        Draft.objects.filter(follow_up__in=cancelled).delete()
    now = clock.now()
    tokens = (
        AccessToken.objects.filter(
            follow_ups__in=[fu.pk for fu in follow_ups],
            expires_at__gt=now,
            channel__in=[TokenChannel.EMAIL, TokenChannel.SMS],
        )
        .select_related("patient__site")
        .distinct()
    )
    for token in tokens:
        last_day = max((fu.window_closes for fu in token.follow_ups.all()), default=None)
        if last_day is None:
            continue
        expires = asking.link_expiry(token.patient.site, last_day)
        if expires != token.expires_at:
            AccessToken.objects.filter(pk=token.pk).update(expires_at=expires)


def on_call_list(qs: QuerySet) -> QuerySet:
    return qs.filter(status__in=LIVE, call_list_since__isnull=False)
