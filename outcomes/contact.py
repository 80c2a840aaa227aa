"""Patient contact: invitations when a window opens, reminders, escalation to the call list, the daily digest,
and sending through an outbox.

How it stays exactly-once:
- The dispatcher claims follow-ups with SELECT ... FOR UPDATE SKIP LOCKED (PostgreSQL; SQLite serializes writers),
  and every patient email has one MessageItem per follow-up with the unique key (follow-up, kind, round, number).
  A second dispatcher, a second beat or a repeated pass cannot create the same invitation or reminder again.
- A message is sent only after a conditional UPDATE pending -> sending changed exactly one row, so two workers
  or a redelivered task never send it twice. SMTP errors put it back to pending with an exponential back-off;
  the dispatcher picks it up again (no long countdowns in the broker). A permanent failure is kept and shown
  to staff.
- A worker killed between the SMTP server accepting a message and the database recording it leaves the row in
  "sending"; after a lease of SENDING_LEASE it is retried. That window (milliseconds) is the one place where a
  duplicate is possible, by design: losing an invitation is worse than sending one twice.
- Before sending, the message is checked again: if every follow-up it covers was completed, withdrawn or has
  closed, or the patient opted out, it is cancelled, so no reminder goes after an answer.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import smtplib
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, F, QuerySet
from django.template.loader import render_to_string
from django.urls import reverse

from outcomes.models import (
    AccessToken,
    EmailOptOut,
    FollowUp,
    FollowUpSettings,
    FollowUpStatus,
    Message,
    MessageItem,
    MessageKind,
    MessageStatus,
)
from outcomes.services import follow_ups_refresh_statuses
from registry import clock
from registry.models import Membership, Patient, Site

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
SENDING_LEASE = timedelta(minutes=15)
LIVE = (FollowUpStatus.OPEN, FollowUpStatus.PARTIAL)


def patient_instruments(fu: FollowUp) -> list[str]:
    """What the patient answers at this follow-up (the HHS examination is the clinician's)."""
    return [i for i in fu.instruments if i != "hhs_exam"]


def token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def settings_for(site: Site) -> FollowUpSettings:
    try:
        return site.follow_up_settings
    except FollowUpSettings.DoesNotExist:
        return FollowUpSettings(site=site)


def contactable(patient: Patient) -> bool:
    """May this patient be emailed now?"""
    identity = getattr(patient, "identity", None)
    return bool(
        identity
        and identity.email
        and patient.consent_email
        and patient.consent_follow_up
        and not patient.is_withdrawn
        and not EmailOptOut.objects.filter(patient=patient).exists()
    )


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
    due: list[int] = field(default_factory=list)

    def lines(self) -> list[str]:
        return [
            f"windows opened: {self.opened}, closed unanswered: {self.missed}",
            f"invitation emails queued: {self.invitations}",
            f"reminder emails queued: {self.reminders}",
            f"follow-ups put on the call list: {self.call_listed}",
            f"call-list digests queued: {self.digests}",
            f"messages cancelled (answered, withdrawn or closed): {self.cancelled}",
            f"stalled sends put back: {self.requeued}",
            f"messages due to send now: {len(self.due)}",
        ]


def dispatch(*, now: datetime | None = None, batch: int = 500) -> DispatchReport:
    """One pass: move statuses, queue due invitations, reminders and digests, and list messages due to send."""
    now = now or clock.now()
    report = DispatchReport()
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
        .values_list("pk", flat=True)[:batch]
    )
    return report


def _new_patient_message(kind: str, patient: Patient, fus: list[FollowUp], number: int, now: datetime) -> bool:
    """Create one email for several follow-ups of a patient; False if any of them already had this email."""
    first = min(fu.pk for fu in fus)
    key = f"{kind}:{patient.pk}:{first}:{fus[0].contact_round}:{number}"
    try:
        with transaction.atomic():
            message = Message.objects.create(
                kind=kind,
                site=patient.site,
                patient=patient,
                to_email=patient.identity.email,
                dedupe_key=key,
                next_attempt_at=now,
            )
            MessageItem.objects.bulk_create(
                [
                    MessageItem(message=message, follow_up=fu, kind=kind, round=fu.contact_round, number=number)
                    for fu in fus
                ]
            )
    except IntegrityError:
        return False  # another dispatcher got there first
    transaction.on_commit(lambda: _enqueue(message.pk))
    return True


def _enqueue(message_id: int) -> None:
    from outcomes import tasks

    try:
        tasks.send_message.delay(message_id)
    except Exception:  # the broker is down: the next dispatcher pass finds the pending row and queues it again
        log.warning("could not queue message %s; the dispatcher will retry", message_id)


def _queue_invitations(now: datetime, batch: int) -> tuple[int, int]:
    sent = listed = 0
    with transaction.atomic():
        due = list(
            _locked(FollowUp.objects.filter(status__in=LIVE, invited_at__isnull=True))
            .select_related("episode__patient__site", "episode__patient__identity")
            .order_by("window_closes", "pk")[:batch]
        )
        by_patient: dict[int, list[FollowUp]] = defaultdict(list)
        for fu in due:
            if not patient_instruments(fu):
                # Nothing for the patient to answer (e.g. only the clinician's examination): no email.
                FollowUp.objects.filter(pk=fu.pk).update(invited_at=now)
                continue
            by_patient[fu.episode.patient_id].append(fu)
        for fus in by_patient.values():
            patient = fus[0].episode.patient
            policy = settings_for(patient.site)
            days = policy.reminder_day_list()
            for fu in fus:
                fu.invited_at = now
                fu.next_reminder_at = now + timedelta(days=days[0] if days else policy.call_after_days)
            if contactable(patient):
                if _new_patient_message(MessageKind.INVITATION, patient, fus, 0, now):
                    sent += 1
            else:
                # No email possible (no address, no consent, opted out): straight to the call list.
                for fu in fus:
                    fu.call_list_since, fu.next_reminder_at = now, None
                listed += len(fus)
            FollowUp.objects.bulk_update(fus, ["invited_at", "next_reminder_at", "call_list_since"])
    return sent, listed


def _queue_reminders(now: datetime, batch: int) -> tuple[int, int]:
    sent = listed = 0
    with transaction.atomic():
        due = list(
            _locked(FollowUp.objects.filter(status__in=LIVE, next_reminder_at__lte=now))
            .select_related("episode__patient__site", "episode__patient__identity")
            .order_by("next_reminder_at", "pk")[:batch]
        )
        groups: dict[tuple[int, int], list[FollowUp]] = defaultdict(list)
        for fu in due:
            policy = settings_for(fu.episode.patient.site)
            days = policy.reminder_day_list()
            number = fu.reminders_sent + 1
            invited = fu.invited_at or now
            if number <= len(days) and contactable(fu.episode.patient):
                fu.reminders_sent, fu.last_reminded_at = number, now
                later = days[number] if number < len(days) else policy.call_after_days
                fu.next_reminder_at = invited + timedelta(days=later)
                groups[(fu.episode.patient_id, number)].append(fu)
            else:
                fu.call_list_since, fu.next_reminder_at = now, None
                listed += 1
        for (_, number), fus in groups.items():
            if _new_patient_message(MessageKind.REMINDER, fus[0].episode.patient, fus, number, now):
                sent += 1
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
                message = Message.objects.create(
                    kind=MessageKind.DIGEST, site=site, dedupe_key=key, next_attempt_at=now, context={"count": row["n"]}
                )
        except IntegrityError:
            continue  # today's digest exists
        transaction.on_commit(lambda pk=message.pk: _enqueue(pk))
        queued += 1
    return queued


# Sending ---------------------------------------------------------------------------------------------------


class PermanentFailure(Exception):
    pass


def _backoff(attempts: int) -> timedelta:
    return timedelta(minutes=min(2 ** (attempts - 1), 240))


def message_send(*, message_id: int, now: datetime | None = None) -> str:
    """Send one queued message if it is still due and still useful. Returns what happened. Idempotent."""
    now = now or clock.now()
    claimed = Message.objects.filter(
        pk=message_id, status=MessageStatus.PENDING, next_attempt_at__lte=now + timedelta(seconds=1)
    ).update(status=MessageStatus.SENDING, claimed_at=now, attempts=F("attempts") + 1)
    if claimed != 1:
        return "skipped"  # sent, being sent, cancelled or not yet due: someone else's work
    message = Message.objects.select_related("site", "patient__identity").get(pk=message_id)
    try:
        email = _compose(message, now)
    except _Cancel as why:
        Message.objects.filter(pk=message.pk).update(status=MessageStatus.CANCELLED, last_error=str(why)[:300])
        return "cancelled"
    except Exception as exc:
        # A bug or a database hiccup while composing: never leave the row claimed; retry later, keep the error.
        log.exception("message %s could not be composed", message.pk)
        _fail(message, f"{type(exc).__name__}: {exc}"[:300], permanent=message.attempts >= MAX_ATTEMPTS, now=now)
        return "retry"
    try:
        with get_connection() as conn:
            email.connection = conn
            email.send()
    except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused) as exc:
        _fail(message, f"refused by the mail server: {exc}"[:300], permanent=True, now=now)
        return "failed"
    except (smtplib.SMTPException, OSError) as exc:
        permanent = message.attempts >= MAX_ATTEMPTS
        _fail(message, f"{type(exc).__name__}: {exc}"[:300], permanent=permanent, now=now)
        return "failed" if permanent else "retry"
    Message.objects.filter(pk=message.pk, status=MessageStatus.SENDING).update(
        status=MessageStatus.SENT, sent_at=now, last_error=""
    )
    return "sent"


def _fail(message: Message, error: str, *, permanent: bool, now: datetime) -> None:
    log.warning("message %s: %s", message.pk, error)
    if permanent:
        Message.objects.filter(pk=message.pk).update(status=MessageStatus.FAILED, last_error=error)
    else:
        Message.objects.filter(pk=message.pk).update(
            status=MessageStatus.PENDING, last_error=error, next_attempt_at=now + _backoff(message.attempts)
        )


class _Cancel(Exception):
    pass


def _base_url() -> str:
    return settings.REGISTRY_BASE_URL.rstrip("/")


def _compose(message: Message, now: datetime) -> EmailMultiAlternatives:
    site = message.site
    if message.kind == MessageKind.DIGEST:
        recipients = sorted(
            set(
                Membership.objects.filter(
                    site=site, active=True, role=Membership.Role.COORDINATOR, user__is_active=True
                )
                .exclude(user__email="")
                .values_list("user__email", flat=True)
            )
        )
        if not recipients:
            raise _Cancel("the site has no coordinator with an email address")
        context = {
            "site": site,
            "count": message.context.get("count", 0),
            "worklist_url": _base_url() + reverse("admin:outcomes_worklist_changelist") + "?work=call",
        }
        return _render("digest", context, recipients, site)
    patient = message.patient
    items = list(message.items.select_related("follow_up__episode"))
    live = [i.follow_up for i in items if i.follow_up.status in LIVE and i.follow_up.contact_round == i.round]
    if not live:
        raise _Cancel("every follow-up it covered is answered, withdrawn or closed")
    if not contactable(patient):
        raise _Cancel("the patient can no longer be emailed (opted out, withdrawn or no address)")
    raw = secrets.token_urlsafe(32)  # 256 bits; only its hash is stored
    tz = zoneinfo.ZoneInfo(site.time_zone)
    last_day = max(fu.window_closes for fu in live)
    token = AccessToken.objects.create(
        token_hash=token_hash(raw),
        patient=patient,
        expires_at=datetime.combine(last_day + timedelta(days=1), time(0, 0), tzinfo=tz),
    )
    token.follow_ups.set(live)
    context = {
        "site": site,
        "kind": message.kind,
        "link": _base_url() + reverse("outcomes:patient_start", args=[raw]),
        "optout_link": _base_url() + reverse("outcomes:patient_optout", args=[raw]),
        "questionnaires": sum(len(patient_instruments(fu)) for fu in live),
        "closes": last_day,
    }
    email = _render(message.kind, context, [message.to_email], site)
    email.extra_headers["List-Unsubscribe"] = f"<{context['optout_link']}>"
    email.extra_headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    return email


def _render(kind: str, context: dict, to: list[str], site: Site) -> EmailMultiAlternatives:
    """One helper renders subject, text and HTML of a message kind."""
    subject = render_to_string(f"outcomes/email/{kind}_subject.txt", context).strip()
    body = "invitation" if kind == MessageKind.REMINDER else kind  # one body; `kind` in the context words it
    text = render_to_string(f"outcomes/email/{body}.txt", context)
    html = render_to_string(f"outcomes/email/{body}.html", context)
    email = EmailMultiAlternatives(
        subject=subject,
        body=text,
        to=to,
        reply_to=[site.contact_email],
        from_email=settings.DEFAULT_FROM_EMAIL,
        headers={},
    )
    email.attach_alternative(html, "text/html")
    return email


# Staff actions and patient choices -------------------------------------------------------------------------


@transaction.atomic
def message_resend(*, follow_up: FollowUp, by: object = None) -> Message | None:
    """Staff resend the link for an unanswered follow-up: a fresh email with a fresh token."""
    fu = (
        FollowUp.objects.select_for_update(of=("self",))
        .select_related("episode__patient__identity", "episode__patient__site")
        .get(pk=follow_up.pk)
    )
    if fu.status not in LIVE:
        raise ValueError("Only an open follow-up can be sent its link again.")
    patient = fu.episode.patient
    if not contactable(patient):
        raise ValueError("This patient cannot be emailed (no address, no consent for email, opted out or withdrawn).")
    number = 1000 + fu.message_items.filter(number__gte=1000).count()  # staff resends count from 1000
    now = clock.now()
    if not _new_patient_message(MessageKind.INVITATION, patient, [fu], number, now):
        raise ValueError("A resend is already queued.")
    return Message.objects.filter(items__follow_up=fu, items__number=number).first()


@transaction.atomic
def patient_opt_out(*, patient: Patient, source: str) -> bool:
    """Record the opt-out and cancel every unsent email to the patient. Returns False if already opted out."""
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


def on_call_list(qs: QuerySet) -> QuerySet:
    return qs.filter(status__in=LIVE, call_list_since__isnull=False)
