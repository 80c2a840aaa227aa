"""The outbox: sending the messages the dispatcher (outcomes.dispatcher) queued, in batches, exactly once.

How it stays exactly-once:
- The dispatcher claims follow-ups with SELECT ... FOR UPDATE SKIP LOCKED (PostgreSQL; SQLite serializes writers),
  and every patient email has one MessageItem per follow-up with the unique key (follow-up, kind, round, number).
  A second dispatcher, a second beat or a repeated pass cannot create the same invitation or reminder again.
- Messages are sent in batches (one SMTP connection per batch). A message is sent only after one conditional
  UPDATE pending -> sending claimed it (the batch's UPDATE returns the ids it changed; rows another batch holds
  are skipped), so two workers or a redelivered task never send it twice. SMTP errors put it back to pending
  with an exponential back-off; the dispatcher picks it up again (no long countdowns in the broker). A permanent
  failure is kept and shown to staff.
- Each message is marked sent right after the server accepted it, one small UPDATE per message. A worker killed
  between the SMTP server accepting a message and the database recording it leaves the row in "sending"; after
  a lease of SENDING_LEASE it is retried. That window (milliseconds) is the one place where a duplicate is
  possible, by design: losing an invitation is worse than sending one twice. The rest of a killed batch, never
  handed to the server, also waits for the lease: late, not lost. If the database is away at that moment (a
  restart), the mark is retried for up to MARK_SENT_PATIENCE, so an outage does not widen the window.
- Right before they go to the server, messages are checked again (RECHECK_EVERY at a time, so a check is at most
  a few sends old, about as old as the single sender's was): if every follow-up a message covers was completed,
  withdrawn or has closed, or the patient opted out, it is cancelled, so no reminder goes after an answer, even
  one given while its batch was being sent.
"""

from __future__ import annotations

import logging
import secrets
import smtplib
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from time import sleep

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import Exists, F, OuterRef
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.formats import date_format
from django.utils.translation import gettext

from outcomes import asking, texting
from outcomes.contact import contactable_patients, live_items, patient_opt_out, texts_allowed_from, token_hash
from outcomes.models import (
    AccessToken,
    FollowUp,
    Message,
    MessageChannel,
    MessageKind,
    MessageStatus,
    TokenChannel,
)
from registry import clock
from registry.models import Membership, Site

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8

RECHECK_EVERY = 10  # messages of a batch re-checked in one query right before they are sent

SENDING_LEASE = timedelta(minutes=15)

MARK_SENT_PATIENCE = timedelta(seconds=90)  # within the task's soft time limit (240 s by default)


class PermanentFailure(Exception):
    pass


def _backoff(attempts: int) -> timedelta:
    return timedelta(minutes=min(2 ** (attempts - 1), 240))


def messages_send(*, message_ids: Iterable[int], now: datetime | None = None) -> dict[str, int]:
    """Send a batch of queued messages over one SMTP connection, those still due and still useful. Returns how
    many ended how: sent, cancelled, failed, retry (back-off), requeued (back to pending, no attempt counted)
    and skipped (someone else's: sent, being sent, cancelled or not yet due). Idempotent."""
    return dict(Counter(_send_batch(message_ids, now or clock.now()).values()))


def message_send(*, message_id: int, now: datetime | None = None) -> str:
    """Send one queued message (a batch of one). Returns what happened. Idempotent."""
    return _send_batch([message_id], now or clock.now())[message_id]


@dataclass
class _Ready:
    """A claimed message that may go out: what composing it needs."""

    message: Message
    recipients: list[str] = field(default_factory=list)  # a digest's coordinators
    follow_ups: list[FollowUp] = field(default_factory=list)  # what a patient email covers, still live
    raw_token: str = ""
    token: AccessToken | None = None
    asks: list[asking.Asked] = field(default_factory=list)  # what the patient email asks, follow-up by follow-up


def _send_batch(message_ids: Iterable[int], now: datetime) -> dict[int, str]:
    ids = sorted(set(message_ids))
    results = dict.fromkeys(ids, "skipped")
    claimed = _claim(ids, now)
    if claimed:
        _deliver(_prepare(claimed, now, results), now, results)
    return results


def _claim(ids: list[int], now: datetime) -> list[int]:
    """pending and due -> sending, attempts + 1, in one statement that returns the ids it changed: each message
    is claimed by one batch only. On PostgreSQL the rows are locked in id order and rows another batch holds are
    skipped (theirs), so two overlapping batches neither wait for nor deadlock with each other."""
    if not ids:
        return []
    due_by = now + timedelta(seconds=1)
    if not connection.features.can_return_columns_from_insert:  # no UPDATE ... RETURNING (SQLite < 3.35)
        pending = Message.objects.filter(status=MessageStatus.PENDING, next_attempt_at__lte=due_by)
        claim = {"status": MessageStatus.SENDING, "claimed_at": now, "attempts": F("attempts") + 1}
        return [pk for pk in ids if pending.filter(pk=pk).update(**claim) == 1]
    table = connection.ops.quote_name(Message._meta.db_table)
    due = f"id IN ({', '.join(['%s'] * len(ids))}) AND status = %s AND next_attempt_at <= %s"
    if connection.features.has_select_for_update_skip_locked:
        due = f"id IN (SELECT id FROM {table} WHERE {due} ORDER BY id FOR UPDATE SKIP LOCKED)"  # noqa: S608
    at = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        cursor.execute(
            # Only placeholders and the model's own table name go into the text; the values are parameters.
            f"UPDATE {table} SET status = %s, claimed_at = %s, attempts = attempts + 1 WHERE {due} RETURNING id",  # noqa: S608
            [MessageStatus.SENDING.value, at(now), *ids, MessageStatus.PENDING.value, at(due_by)],
        )
        return sorted(row[0] for row in cursor.fetchall())


def _reachable() -> dict[str, Exists]:
    """Annotations: may the message's patient still be contacted by email, by text."""
    return {
        f"reachable_{c}": Exists(contactable_patients(c).filter(pk=OuterRef("patient_id")))
        for c in MessageChannel.values
    }


def _unwanted(*, live: bool, reachable: bool, channel: str) -> str:
    """Why a patient message is no longer wanted, or ""."""
    if not live:
        return (
            "nothing it covered is left for the patient to answer by link "
            "(answered, closed, withdrawn, cancelled, or only staff work remains)"
        )
    if not reachable:
        if channel == MessageChannel.SMS:
            return "the patient can no longer be texted (opted out, withdrawn, no mobile number or no longer by text)"
        return "the patient can no longer be emailed (opted out, withdrawn or no address)"
    return ""


def _still_asking(message_ids: list[int], now: datetime) -> dict[int, list[asking.Asked]]:
    """The follow-ups of each patient email that still ask the patient something by link, window open today at
    the site (outcomes.asking): a closed or finished follow-up is dropped from its bundle, never blocking the
    others."""
    items = list(
        live_items()
        .filter(message__in=message_ids)
        .select_related("follow_up__episode__patient__site", "follow_up__episode__patient__identity")
        .order_by("pk")
    )
    asks = asking.asked({i.follow_up.pk: i.follow_up for i in items}.values(), now=now)
    out: dict[int, list[asking.Asked]] = defaultdict(list)
    for item in items:
        if asks[item.follow_up_id].by_link:
            out[item.message_id].append(asks[item.follow_up_id])
    return out


def _recheck(messages: list[Message], now: datetime) -> dict[int, str]:
    """Right before patient emails go to the server, from the database as it is now: why each one is no longer
    wanted, or ""."""
    ids = [m.pk for m in messages if m.kind != MessageKind.DIGEST]
    if not ids:
        return {}
    asking_now = _still_asking(ids, now)
    rows = (
        Message.objects.filter(pk__in=ids)
        .annotate(**_reachable())
        .order_by()
        .values_list("pk", "channel", "reachable_email", "reachable_sms")
    )
    return {
        pk: _unwanted(
            live=bool(asking_now.get(pk)),
            reachable=by_sms if channel == MessageChannel.SMS else by_email,
            channel=channel,
        )
        for pk, channel, by_email, by_sms in rows
    }


def _prepare(claimed: list[int], now: datetime, results: dict[int, str]) -> list[_Ready]:
    """Load the claimed messages in a few queries, cancel those no longer wanted, and create the patients'
    access tokens in bulk."""
    messages = list(
        Message.objects.filter(pk__in=claimed)
        .select_related("site", "patient__identity")
        .annotate(**_reachable())
        .order_by("pk")
    )
    live = _still_asking(claimed, now)
    coordinators: dict[int, list[str]] = {}
    ready: list[_Ready] = []
    for message in messages:
        if message.kind == MessageKind.DIGEST:
            if message.site_id not in coordinators:
                coordinators[message.site_id] = _digest_recipients(message.site)
            if not coordinators[message.site_id]:
                _cancel(message, "the site has no coordinator with an email address", results)
                continue
            ready.append(_Ready(message, recipients=coordinators[message.site_id]))
            continue
        text = message.channel == MessageChannel.SMS
        reachable = message.reachable_sms if text else message.reachable_email
        why = _unwanted(live=bool(live.get(message.pk)), reachable=reachable, channel=message.channel)
        if why:
            _cancel(message, why, results)
            continue
        if text and (allowed := texts_allowed_from(message.site, now)) > now:
            _defer(message, allowed, results)  # quiet hours at the site: not an attempt
            continue
        asks = live[message.pk]
        ready.append(
            _Ready(message, follow_ups=[a.follow_up for a in asks], asks=asks, raw_token=secrets.token_urlsafe(32))
        )
    patient_emails = [r for r in ready if r.raw_token]
    try:
        _tokens_create(patient_emails, now)
    except Exception as exc:
        # A database hiccup: never leave the rows claimed; retry later, keep the error.
        log.exception("access tokens for messages %s could not be created", [r.message.pk for r in patient_emails])
        for r in patient_emails:
            _fail(r.message, f"{type(exc).__name__}: {exc}"[:300], results, now=now)
        return [r for r in ready if not r.raw_token]
    return ready


def _tokens_create(ready: list[_Ready], now: datetime) -> None:
    """One personal link per patient email, in two INSERTs. The raw token (256 bits) exists only in the email."""
    for r in ready:
        last_day = max(fu.window_closes for fu in r.follow_ups)
        r.token = AccessToken(
            token_hash=token_hash(r.raw_token),
            patient=r.message.patient,
            expires_at=asking.link_expiry(r.message.site, last_day),
            channel=TokenChannel.SMS if r.message.channel == MessageChannel.SMS else TokenChannel.EMAIL,
        )
    through = AccessToken.follow_ups.through
    with transaction.atomic():
        AccessToken.objects.bulk_create([r.token for r in ready if r.token])
        through.objects.bulk_create(
            [through(accesstoken_id=r.token.pk, followup_id=fu.pk) for r in ready if r.token for fu in r.follow_ups]
        )


class _Refused(Exception):
    """The server or provider said no to this message only: a permanent failure; the others go on."""

    def __init__(self, reason: str, *, unsubscribed: bool = False) -> None:
        super().__init__(reason)
        self.unsubscribed = unsubscribed


class _Broken(Exception):
    """The connection failed while sending this message: retried with back-off, the connection opened again."""


class _Unreachable(Exception):
    """The server or provider cannot be reached at all: each message backs off as it would alone."""


class _EmailTransport:
    """Emails over one SMTP connection."""

    def __init__(self) -> None:
        self.conn = None

    def compose(self, r: _Ready) -> EmailMultiAlternatives:
        return _compose(r)

    def open(self) -> None:
        self.conn = get_connection()
        try:
            self.conn.open()
        except (smtplib.SMTPException, OSError) as exc:
            self.conn = None
            raise _Unreachable(f"{type(exc).__name__}: {exc}"[:300]) from exc

    def send(self, email: EmailMultiAlternatives) -> str:
        email.connection = self.conn
        try:
            email.send()
        except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused) as exc:
            raise _Refused(f"refused by the mail server: {exc}"[:300]) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise _Broken(f"{type(exc).__name__}: {exc}"[:300]) from exc
        return ""

    def close(self) -> None:
        if self.conn is not None:
            _close(self.conn)
        self.conn = None


class _TextTransport:
    """Text messages through the configured backend (outcomes.texting)."""

    def __init__(self) -> None:
        self.conn = None

    def compose(self, r: _Ready) -> texting.TextMessage:
        return _compose_text(r)

    def open(self) -> None:
        try:
            self.conn = texting.get_connection()
            self.conn.open()
        except texting.TextError as exc:
            self.conn = None
            raise _Unreachable(str(exc)[:300]) from exc

    def send(self, text: texting.TextMessage) -> str:
        try:
            return self.conn.send(text)  # type: ignore[union-attr]
        except texting.TextRefused as exc:
            raise _Refused(f"refused by the text-message provider: {exc}"[:300], unsubscribed=exc.unsubscribed) from exc
        except texting.TextUnavailable as exc:
            raise _Broken(str(exc)[:300]) from exc

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()
            except texting.TextError as exc:
                log.info("closing the text-message connection: %s", exc)
        self.conn = None


def _deliver(ready: list[_Ready], now: datetime, results: dict[int, str]) -> None:
    """Emails over one SMTP connection, then texts over one provider session."""
    emails = [r for r in ready if r.message.channel != MessageChannel.SMS]
    texts = [r for r in ready if r.message.channel == MessageChannel.SMS]
    try:
        if emails:
            _deliver_by(_EmailTransport(), emails, now, results)
    finally:
        if texts:
            _deliver_by(_TextTransport(), texts, now, results)


def _deliver_by(
    transport: _EmailTransport | _TextTransport, ready: list[_Ready], now: datetime, results: dict[int, str]
) -> None:
    """Send over one connection, messages re-checked just before (RECHECK_EVERY at a time) and each marked
    sent just after the server accepted it.

    A broken connection fails its message with the usual back-off and is opened again once; if it breaks a
    second time, or anything unexpected stops the batch, the messages not yet handed to the server go back to
    pending without counting an attempt. Messages already handed over stay "sending" until the lease."""
    opened = False
    breaks = 0
    started = 0  # ready[:started] were handed to the server or settled
    unwanted: dict[int, str] = {}
    try:
        for i, r in enumerate(ready):
            message = r.message
            if i % RECHECK_EVERY == 0:
                unwanted = _recheck([x.message for x in ready[i : i + RECHECK_EVERY]], now)
            if why := unwanted.get(message.pk):
                _cancel(message, why, results, token=r.token)
                started += 1
                continue
            try:
                composed = transport.compose(r)
            except Exception as exc:
                # A bug while composing: never leave the row claimed; retry later, keep the error.
                log.exception("message %s could not be composed", message.pk)
                _fail(message, f"{type(exc).__name__}: {exc}"[:300], results, now=now, token=r.token)
                started += 1
                continue
            if not opened:
                try:
                    transport.open()
                except _Unreachable as exc:
                    # The server cannot be reached: each of the rest fails as it would alone (back-off).
                    for rest in ready[started:]:
                        _fail(rest.message, str(exc), results, now=now, token=rest.token)
                    started = len(ready)
                    break
                opened = True
            started += 1  # from here the server may have it: it is never put back before the lease
            try:
                ref = transport.send(composed)
            except _Refused as exc:
                # The server said no to this message only (and reset the session): the others go on.
                _fail(message, str(exc), results, now=now, permanent=True)
                if exc.unsubscribed and message.patient_id:
                    patient_opt_out(patient=message.patient, source="stop")
                continue
            except _Broken as exc:
                _fail(message, str(exc), results, now=now)
                transport.close()
                opened = False
                breaks += 1
                if breaks >= 2:
                    break
                continue
            _mark_sent(message.pk, now, ref)
            results[message.pk] = "sent"
    finally:
        transport.close()
        rest = ready[started:]
        if rest:
            log.warning("batch stopped: %s message(s) back to pending", len(rest))
            Message.objects.filter(pk__in=[r.message.pk for r in rest], status=MessageStatus.SENDING).update(
                status=MessageStatus.PENDING, attempts=F("attempts") - 1
            )
            AccessToken.objects.filter(pk__in=[r.token.pk for r in rest if r.token]).delete()
            for r in rest:
                results[r.message.pk] = "requeued"


def _mark_sent(message_id: int, now: datetime, ref: str = "") -> None:
    """The server has accepted the message: record it. A row left in "sending" is sent again after the lease, so
    a database outage here (a restart, a failover) is waited out for up to MARK_SENT_PATIENCE, reconnecting
    with back-off, instead of turning the milliseconds of the duplicate window into the length of the outage.
    If the database stays away longer, the error stops the batch and the lease decides."""
    waited, pause = 0.0, 0.25
    while True:
        try:
            Message.objects.filter(pk=message_id, status=MessageStatus.SENDING).update(
                status=MessageStatus.SENT, sent_at=now, last_error="", provider_ref=ref[:64]
            )
            return
        except (OperationalError, InterfaceError) as exc:
            if connection.in_atomic_block or waited >= MARK_SENT_PATIENCE.total_seconds():
                raise
            log.warning("message %s was sent but could not be marked sent (%s); retrying", message_id, exc)
            connection.close()  # a broken connection is not reused; the next query opens a new one
            sleep(pause)
            waited += pause
            pause = min(pause * 2, 5.0)


def _close(conn: object) -> None:
    try:
        conn.close()  # type: ignore[attr-defined]
    except (smtplib.SMTPException, OSError) as exc:  # the messages are recorded; a failed QUIT changes nothing
        log.info("closing the SMTP connection: %s", exc)


def _cancel(message: Message, why: str, results: dict[int, str], *, token: AccessToken | None = None) -> None:
    Message.objects.filter(pk=message.pk).update(status=MessageStatus.CANCELLED, last_error=why[:300])
    if token is not None:  # never emailed: nobody holds it
        AccessToken.objects.filter(pk=token.pk).delete()
    results[message.pk] = "cancelled"


def _defer(message: Message, until: datetime, results: dict[int, str]) -> None:
    """A text claimed in the site's quiet hours goes back to pending until they end; no attempt is counted."""
    Message.objects.filter(pk=message.pk, status=MessageStatus.SENDING).update(
        status=MessageStatus.PENDING, attempts=F("attempts") - 1, next_attempt_at=until
    )
    results[message.pk] = "deferred"


def _fail(
    message: Message,
    error: str,
    results: dict[int, str],
    *,
    now: datetime,
    permanent: bool = False,
    token: AccessToken | None = None,
) -> None:
    """Back to pending with a back-off, or failed for good (refused, or MAX_ATTEMPTS reached)."""
    log.warning("message %s: %s", message.pk, error)
    if token is not None:  # never emailed
        AccessToken.objects.filter(pk=token.pk).delete()
    if permanent or message.attempts >= MAX_ATTEMPTS:
        Message.objects.filter(pk=message.pk).update(status=MessageStatus.FAILED, last_error=error)
        results[message.pk] = "failed"
    else:
        Message.objects.filter(pk=message.pk).update(
            status=MessageStatus.PENDING, last_error=error, next_attempt_at=now + _backoff(message.attempts)
        )
        results[message.pk] = "retry"


def _base_url() -> str:
    return settings.REGISTRY_BASE_URL.rstrip("/")


def _digest_recipients(site: Site) -> list[str]:
    return sorted(
        set(
            Membership.objects.filter(site=site, active=True, role=Membership.Role.COORDINATOR, user__is_active=True)
            .exclude(user__email="")
            .values_list("user__email", flat=True)
        )
    )


def _compose(r: _Ready) -> EmailMultiAlternatives:
    message, site = r.message, r.message.site
    if message.kind == MessageKind.DIGEST:
        context = {
            "site": site,
            "count": message.context.get("count", 0),
            "worklist_url": _base_url() + reverse("admin:outcomes_worklist_changelist") + "?work=call",
        }
        return _render("digest", context, r.recipients, site)
    context = {
        "site": site,
        "kind": message.kind,
        "link": _base_url() + reverse("outcomes:patient_start", args=[r.raw_token]),
        "optout_link": _base_url() + reverse("outcomes:patient_optout", args=[r.raw_token]),
        "withdraw_link": _base_url() + reverse("outcomes:patient_withdraw", args=[r.raw_token]),
        "consent_pending": message.patient.consent_pending,
        "questionnaires": sum(len(a.by_link) for a in r.asks),
        "minutes": asking.minutes_for(asking.pages_for(r.asks)),
        "closes": max(fu.window_closes for fu in r.follow_ups),
        "first_closes": min(fu.window_closes for fu in r.follow_ups),
    }
    # The patient's own language: subject, text, dates and month names (the digest stays in English for staff).
    with translation.override(asking.language_of(message.patient)):
        email = _render(message.kind, context, [message.to_email], site)
    email.extra_headers["Content-Language"] = asking.language_of(message.patient)
    email.extra_headers["List-Unsubscribe"] = f"<{context['optout_link']}>"
    email.extra_headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    return email


def _compose_text(r: _Ready) -> texting.TextMessage:
    """A text is short: the site's name, how long, by when, the link, how to stop texts and the link to leave
    the registry. No clinical data (no body part, no treatment, no timepoint), in the patient's language."""
    message, site = r.message, r.message.site
    link = _base_url() + reverse("outcomes:patient_start", args=[r.raw_token])
    minutes = asking.minutes_for(asking.pages_for(r.asks))
    by = min(fu.window_closes for fu in r.follow_ups)
    with translation.override(asking.language_of(message.patient)):
        day = date_format(by, "MONTH_DAY_FORMAT")
        if message.patient.consent_pending:
            line = gettext(
                "{site} asks whether you take part in its follow-up of treatment results (about {minutes} min). "
                "Please read and answer by {day}:"
            )
        elif message.kind == MessageKind.REMINDER:
            line = gettext(
                "{site}: a reminder: your follow-up questions are still waiting (about {minutes} min). "
                "Please answer by {day}:"
            )
        else:
            line = gettext("{site}: your follow-up questions are ready (about {minutes} min). Please answer by {day}:")
        stop = gettext("Reply STOP to stop these texts.")
        leave = gettext("Leave the registry:")
    body = line.format(site=site.name, minutes=minutes, day=day)
    withdraw = _base_url() + reverse("outcomes:patient_withdraw", args=[r.raw_token])
    return texting.TextMessage(to=message.to_phone, body=f"{body}\n{link}\n{stop}\n{leave} {withdraw}")


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
