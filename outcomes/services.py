"""Writes of the follow-up domain: scheduling, status, responses and their scores.

Every function here runs in one transaction. Answers reach the database only through `response_submit`, which
validates them with the scoring engine (a ScoringError becomes a ValidationError naming the item) and writes the
scores, derived ones included, before the transaction commits: a stored score is never stale.
"""

from __future__ import annotations

import zoneinfo
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext

import scoring
from outcomes import asking
from outcomes.contact import contact_after_schedule, contact_reset_for_moved
from outcomes.models import (
    HHS_EXAM,
    AccessToken,
    CallAttempt,
    CallOutcome,
    DoubleEntry,
    Draft,
    EndedReason,
    EnteredVia,
    FollowUp,
    FollowUpSettings,
    FollowUpStatus,
    InstrumentWording,
    MissingCode,
    Mode,
    OutcomePlan,
    Response,
    Score,
    Timepoint,
    TokenChannel,
    decode_missing,
    encode_missing,
    eq5d5l_value_set,
)
from outcomes.schedule import WINDOWS
from registry import clock
from registry.models import EpisodeStatus, Patient, Site, TreatmentEpisode

# Scores derived from one response's answers: the patient answers KOOS/HOOS once; WOMAC, KOOS JR and KOOS-12 (from
# KOOS) and HOOS JR (from HOOS) come from them, each stored as its own instrument (`<short form>_from_<parent>`)
# with the parent's response as its provenance. The list is the engine's (scoring.derived_instruments).
DERIVED_FROM = {parent: list(scoring.derived_instruments(parent)) for parent in ("koos", "hoos")}
# An EQ-5D-5L index is stored with the value set that computed it: a category row of the same response beside
# `index` (indices under different value sets are never comparable).
EQ5D5L = "eq5d5l"
EQ5D5L_VALUE_SET_KEY = "value_set"


# Time ------------------------------------------------------------------------------------------------------


def site_today(site: Site, now: datetime | None = None) -> date:
    """The calendar date at the site: windows open and close on the site's own days."""
    now = now or clock.now()
    try:
        tz = zoneinfo.ZoneInfo(site.time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        tz = zoneinfo.ZoneInfo("UTC")
    return now.astimezone(tz).date()


# Plans -----------------------------------------------------------------------------------------------------


def plan_for(episode: TreatmentEpisode) -> OutcomePlan | None:
    """The most specific active plan: the episode's protocol, then its site, then the registry default."""
    plans = OutcomePlan.objects.filter(active=True, joint=episode.joint).prefetch_related("items")
    candidates = []
    if episode.protocol_id:
        candidates.append(Q(protocol_id=episode.protocol_id))
    candidates.append(Q(site_id=episode.patient.site_id, protocol__isnull=True))
    candidates.append(Q(site__isnull=True, protocol__isnull=True))
    for condition in candidates:
        plan = plans.filter(condition).order_by("id").first()
        if plan is not None:
            return plan
    return None


def plan_instruments(plan: OutcomePlan | None) -> dict[str, list[str]]:
    owed: dict[str, list[str]] = defaultdict(list)
    if plan is not None:
        for item in plan.items.all():
            owed[item.timepoint].append(item.instrument)
    return {tp: sorted(v) for tp, v in owed.items()}


def wording_for(*, site: Site, instrument: str, language: str) -> scoring.Wording | None:
    """The site's validated wording for the instrument (a derived WOMAC or the HHS exam use their source's)."""
    source = asking.wording_instrument(instrument)
    row = InstrumentWording.objects.filter(site=site, instrument=source, language=language).first()
    if row is None:
        return None
    try:
        return scoring.load_wording(row.content)
    except scoring.ScoringError:
        return None  # validated on upload; an engine upgrade that rejects it falls back to our labels


# Status ----------------------------------------------------------------------------------------------------


def compute_status(
    *, follow_up: FollowUp, today: date, answered: set[str], withdrawn: bool, episode_status: str = "done"
) -> str:
    """The follow-up's status on `today` (the site's date). A planned treatment's baseline runs on the calendar;
    its later follow-ups wait, never opening or missed, until the treatment is done. A cancelled treatment
    cancels what is not complete (answers given are kept)."""
    owed = set(follow_up.instruments)
    if owed and owed <= answered:
        return FollowUpStatus.COMPLETED
    if withdrawn:
        return FollowUpStatus.WITHDRAWN
    if episode_status == EpisodeStatus.CANCELLED:
        return FollowUpStatus.CANCELLED
    if follow_up.ended_reason:
        return ENDED_STATUS[follow_up.ended_reason]
    if answered:
        return FollowUpStatus.PARTIAL
    if episode_status == EpisodeStatus.PLANNED and follow_up.timepoint != Timepoint.BASELINE:
        return FollowUpStatus.SCHEDULED
    if today < follow_up.window_opens:
        return FollowUpStatus.SCHEDULED
    if today > follow_up.window_closes:
        return FollowUpStatus.MISSED
    return FollowUpStatus.OPEN


ENDED_STATUS = {EndedReason.REFUSED: FollowUpStatus.REFUSED, EndedReason.MOVED_AWAY: FollowUpStatus.LOST}


def _answered(follow_up: FollowUp) -> set[str]:
    if follow_up.pk is None:
        return set()
    return set(follow_up.responses.values_list("instrument", flat=True))


def _refresh_one(follow_up: FollowUp, *, today: date | None = None) -> None:
    """Recompute status, days from index and completion time of one follow-up (not saved here)."""
    episode = follow_up.episode
    today = today or site_today(episode.patient.site)
    times = sorted(follow_up.responses.values_list("completed_at", flat=True)) if follow_up.pk else []
    answered = _answered(follow_up)
    follow_up.status = compute_status(
        follow_up=follow_up,
        today=today,
        answered=answered,
        withdrawn=episode.patient.follow_up_stopped,
        episode_status=episode.status,
    )
    if times:
        local_day = times[0].astimezone(zoneinfo.ZoneInfo(episode.patient.site.time_zone)).date()
        follow_up.days_from_index = (local_day - episode.index_date).days
    else:
        follow_up.days_from_index = None
    if follow_up.status == FollowUpStatus.COMPLETED:
        follow_up.completed_at = follow_up.completed_at or times[-1]
    else:
        follow_up.completed_at = None


# Scheduling ------------------------------------------------------------------------------------------------


@transaction.atomic
def follow_ups_schedule(*, episode: TreatmentEpisode, today: date | None = None) -> list[FollowUp]:
    """Create the episode's five follow-ups, or move the unfinished ones after an index-date change.

    Completed follow-ups keep their answers; only their days-from-index are recomputed. Idempotent.
    """
    episode = TreatmentEpisode.objects.select_related("patient__site", "protocol").get(pk=episode.pk)
    owed = plan_instruments(plan_for(episode))
    existing = {fu.timepoint: fu for fu in FollowUp.objects.select_for_update().filter(episode=episode)}
    today = today or site_today(episode.patient.site)
    result = []
    for window in WINDOWS:
        opens, target, closes = window.dates(episode.index_date)
        fu = existing.get(window.timepoint) or FollowUp(
            episode=episode, timepoint=window.timepoint, instruments=owed.get(window.timepoint, [])
        )
        fu.episode = episode
        moved = fu.pk is not None and (fu.window_opens, fu.window_closes) != (opens, closes)
        if fu.status != FollowUpStatus.COMPLETED:
            fu.window_opens, fu.target_date, fu.window_closes = opens, target, closes
            if fu.pk is None or not fu.responses.exists():
                # The plan may have changed since scheduling; a follow-up with answers keeps what it asked.
                fu.instruments = owed.get(window.timepoint, [])
        _refresh_one(fu, today=today)
        if moved and fu.status != FollowUpStatus.COMPLETED:
            contact_reset_for_moved(follow_up=fu)
        fu.save()
        result.append(fu)
    contact_after_schedule(follow_ups=result)
    return result


def follow_ups_build(*, episodes: Iterable[TreatmentEpisode], today: date) -> list[FollowUp]:
    """The five unsaved follow-ups of each new episode, statuses set: what follow_ups_schedule_bulk inserts
    (the scale seeder fills in answers first and inserts them once)."""
    plans = list(OutcomePlan.objects.filter(active=True).prefetch_related("items"))

    def owed_for(ep: TreatmentEpisode) -> dict[str, list[str]]:
        for match in (
            lambda p: ep.protocol_id and p.protocol_id == ep.protocol_id,
            lambda p: p.protocol_id is None and p.site_id == ep.patient.site_id,
            lambda p: p.protocol_id is None and p.site_id is None,
        ):
            for plan in plans:
                if plan.joint == ep.joint and match(plan):
                    return plan_instruments(plan)
        return {}

    rows = []
    for ep in episodes:
        owed = owed_for(ep)
        withdrawn = ep.patient.follow_up_stopped
        for window in WINDOWS:
            opens, target, closes = window.dates(ep.index_date)
            fu = FollowUp(
                episode=ep,
                timepoint=window.timepoint,
                window_opens=opens,
                target_date=target,
                window_closes=closes,
                instruments=owed.get(window.timepoint, []),
            )
            fu.status = compute_status(
                follow_up=fu, today=today, answered=set(), withdrawn=withdrawn, episode_status=ep.status
            )
            rows.append(fu)
    return rows


@transaction.atomic
def follow_ups_schedule_bulk(*, episodes: Iterable[TreatmentEpisode], today: date) -> int:
    """Bulk scheduling for new episodes (demo and scale seeding): no per-row queries, no signals."""
    from simple_history.utils import bulk_create_with_history

    rows = follow_ups_build(episodes=episodes, today=today)
    bulk_create_with_history(rows, FollowUp, batch_size=2000, default_change_reason="scheduled in bulk")
    return len(rows)


@transaction.atomic
def follow_ups_withdraw(*, patient: Patient, why: str = "consent withdrawn") -> int:
    """Withdrawal of consent (or a decline) closes every unfinished follow-up of the patient at once, and the
    emails and texts still waiting for them are cancelled then (the outbox shows it at once)."""
    closed = []
    for fu in FollowUp.objects.select_for_update().filter(episode__patient=patient, status__in=FollowUp.UNFINISHED):
        fu.status = FollowUpStatus.WITHDRAWN
        fu._change_reason = why
        fu.save(update_fields=["status", "updated_at"])
        closed.append(fu)
    if closed:
        contact_after_schedule(follow_ups=closed)
    return len(closed)


@transaction.atomic
def follow_ups_reinstate(*, patient: Patient) -> int:
    """A withdrawal recorded in error and undone: the withdrawn follow-ups take their status from the calendar."""
    count = 0
    for fu in FollowUp.objects.select_for_update().filter(episode__patient=patient, status=FollowUpStatus.WITHDRAWN):
        _refresh_one(fu)
        fu._change_reason = "withdrawal undone"
        fu.save()
        count += 1
    return count


def follow_ups_refresh_statuses(*, now: datetime | None = None) -> dict[str, int]:
    """Move follow-ups along the calendar: scheduled -> open when the window opens, open -> missed when it closes
    unanswered. Set-based and idempotent; run by beat and by `followups_run`."""
    now = now or clock.now()
    counts = {"opened": 0, "missed": 0}
    for tz in Site.objects.values_list("time_zone", flat=True).distinct():
        site = Site(time_zone=tz)
        today = site_today(site, now)
        # A planned treatment's later follow-ups wait for it to be done; its baseline runs on the calendar.
        in_tz = Q(episode__patient__site__time_zone=tz) & (
            Q(timepoint=Timepoint.BASELINE) | Q(episode__status=EpisodeStatus.DONE)
        )
        with transaction.atomic():
            counts["opened"] += FollowUp.objects.filter(
                in_tz,
                status=FollowUpStatus.SCHEDULED,
                window_opens__lte=today,
                window_closes__gte=today,
            ).update(status=FollowUpStatus.OPEN, updated_at=now)
            counts["missed"] += FollowUp.objects.filter(
                in_tz,
                status__in=[FollowUpStatus.SCHEDULED, FollowUpStatus.OPEN],
                window_closes__lt=today,
            ).update(status=FollowUpStatus.MISSED, updated_at=now)
    return counts


# Calls ------------------------------------------------------------------------------------------------------

ENDS_FOLLOW_UP = {CallOutcome.REFUSED: EndedReason.REFUSED, CallOutcome.MOVED_AWAY: EndedReason.MOVED_AWAY}
CALLABLE = (FollowUpStatus.OPEN, FollowUpStatus.PARTIAL, FollowUpStatus.MISSED, FollowUpStatus.SCHEDULED)


@transaction.atomic
def call_log(*, follow_up: FollowUp, outcome: str, by: Any, note: str = "") -> CallAttempt:
    """Record one call about a follow-up. "Refused" and "moved away" end the follow-up with that reason (in its
    history, with the note); the other outcomes leave it as it is. Staff of another site: PermissionError."""
    follow_up = FollowUp.objects.select_for_update().select_related("episode__patient__site").get(pk=follow_up.pk)
    if not FollowUp.objects.visible_to(by).filter(pk=follow_up.pk).exists():
        raise PermissionError("This follow-up belongs to another site.")
    if outcome not in CallOutcome.values:
        raise ValidationError(f"Unknown call outcome {outcome!r}.", code="call_outcome")
    note = (note or "").strip()
    if len(note) > 300:
        raise ValidationError(gettext("Keep the note under 300 characters."), code="call_note")
    if follow_up.status not in CALLABLE:
        raise ValidationError(
            gettext("This follow-up is %(status)s: there is nothing to call about.")
            % {"status": follow_up.get_status_display().lower()},
            code="call_finished",
        )
    call = CallAttempt.objects.create(follow_up=follow_up, outcome=outcome, note=note, by=by, at=clock.now())
    ended = ENDS_FOLLOW_UP.get(outcome)
    if ended:
        follow_up.ended_reason = ended
        _refresh_one(follow_up)
        follow_up.call_list_since = None
        follow_up.next_reminder_at = None
        # The note stays on the call (erased with the identity on anonymisation); history keeps the outcome only.
        follow_up._change_reason = f"call: {call.get_outcome_display().lower()}"
        follow_up._history_user = by
        follow_up.save()
    return call


@transaction.atomic
def follow_up_resume(*, follow_up: FollowUp, by: Any, reason: str) -> FollowUp:
    """Undo "refused" or "moved away" (recorded in error, or the patient changed their mind): the follow-up
    takes its status from the calendar again."""
    follow_up = FollowUp.objects.select_for_update().select_related("episode__patient__site").get(pk=follow_up.pk)
    if not reason.strip():
        raise ValidationError(gettext("Say why the follow-up is resumed."), code="reason_required")
    if not follow_up.ended_reason:
        raise ValidationError(gettext("This follow-up was not ended by a call."), code="not_ended")
    follow_up.ended_reason = ""
    _refresh_one(follow_up)
    follow_up._change_reason = f"resumed: {reason.strip()}"
    follow_up._history_user = by
    follow_up.save()
    return follow_up


# Responses and scores --------------------------------------------------------------------------------------


def _validation_error(exc: scoring.ScoringError) -> ValidationError:
    return ValidationError(str(exc), code="invalid_answer")


def validate_response_answers(instrument: str, answers: Mapping[str, Any]) -> dict[str, Any]:
    """The answers as they will be stored (unanswered items dropped), or a ValidationError naming the item."""
    if not isinstance(answers, Mapping):
        raise ValidationError("Answers must be a mapping of item code to value.")
    if instrument == HHS_EXAM:
        hhs = scoring.get_instrument("hhs")
        clinician = {item.code for item in hhs.items if item.respondent == "clinician"}
        stray = sorted(code for code in answers if code not in clinician)
        if stray:
            raise ValidationError(
                f"hhs_exam: {stray[0]!r} is not a clinician examination item of the Harris Hip Score."
            )
        scored_as = "hhs"
    else:
        scored_as = instrument
    try:
        scoring.validate_answers(scored_as, answers)
    except scoring.ScoringError as exc:
        raise _validation_error(exc) from None
    return {code: value for code, value in answers.items() if value is not None}


def instrument_version(instrument: str) -> str:
    return scoring.get_instrument("hhs" if instrument == HHS_EXAM else instrument).version


def follow_up_value_set(follow_up: FollowUp) -> str | None:
    """The EQ-5D-5L value set of the follow-up's site (its settings' choice, else its country's), or None."""
    row = (
        Site.objects.filter(patients__episodes=follow_up.episode_id)
        .values_list("follow_up_settings__eq5d5l_value_set", "country")
        .first()
    )
    if row is None:
        return None
    chosen, country = row
    return eq5d5l_value_set(chosen=chosen or "", country=country or "")


def site_value_set(site: Site) -> str | None:
    chosen = FollowUpSettings.objects.filter(site=site).values_list("eq5d5l_value_set", flat=True).first()
    return eq5d5l_value_set(chosen=chosen or "", country=site.country or "")


@transaction.atomic
def eq5d5l_rescore_site(*, site: Site) -> int:
    """Recompute the stored EQ-5D-5L indices of a site whose value set changed (its settings' choice, or its
    country); returns the follow-ups rescored. Only follow-ups whose stored value set is not the site's are read,
    so a save that changes nothing costs one query."""
    current = site_value_set(site) or ""
    stale = Score.objects.filter(
        follow_up__episode__patient__site=site, instrument=EQ5D5L, key=EQ5D5L_VALUE_SET_KEY
    ).exclude(value_text=current)
    follow_ups = FollowUp.objects.filter(pk__in=stale.values("follow_up_id"))
    count = 0
    for follow_up in follow_ups.select_for_update().order_by("pk"):
        scores_write(follow_up=follow_up, only=EQ5D5L)
        count += 1
    return count


def _expected_scores(
    follow_up: FollowUp, responses: Mapping[str, Response], *, value_set: Any = ...
) -> dict[tuple[str, str], tuple]:
    """(instrument, key) -> (value, value_text, response) for everything these responses give. `value_set`: the
    site's EQ-5D-5L value set when the caller knows it (bulk writers), else it is read when an EQ-5D-5L is here."""
    out: dict[tuple[str, str], tuple] = {}

    def put(instrument: str, answers: Mapping[str, Any], response: Response | None) -> None:
        if instrument == EQ5D5L:
            chosen = follow_up_value_set(follow_up) if value_set is ... else value_set
            if chosen is None:  # no value set at the site: answers kept, no index (computed once one is chosen)
                out[(instrument, "index")] = (None, "", response)
                out[(instrument, EQ5D5L_VALUE_SET_KEY)] = (None, "", response)
                return
            result = scoring.score(instrument, answers, value_set=chosen)
            out[(instrument, EQ5D5L_VALUE_SET_KEY)] = (None, chosen, response)
        else:
            result = scoring.score(instrument, answers)
        for key, value in result.scores.items():
            if isinstance(value, str):
                out[(instrument, key)] = (None, value, response)
            elif isinstance(value, bool):
                out[(instrument, key)] = (1.0 if value else 0.0, "", response)
            else:
                out[(instrument, key)] = (None if value is None else float(value), "", response)

    for instrument, response in responses.items():
        if instrument == HHS_EXAM:
            continue
        put(instrument, response.answers, response)
        for derived in DERIVED_FROM.get(instrument, []):
            put(derived, response.answers, response)
    if "mhhs" in responses and HHS_EXAM in responses:
        # The full Harris Hip Score: the patient's pain and function with the clinician's examination.
        put("hhs", {**responses["mhhs"].answers, **responses[HHS_EXAM].answers}, None)
    return out


def scores_write(*, follow_up: FollowUp, only: str | None = None) -> dict[str, int]:
    """Bring the stored scores of a follow-up (or only those of instrument `only`) in line with its responses and
    the current engine."""
    responses = {r.instrument: r for r in follow_up.responses.all()}
    expected = _expected_scores(follow_up, responses)
    stored = {(s.instrument, s.key): s for s in Score.objects.filter(follow_up=follow_up)}
    if only:
        expected = {k: v for k, v in expected.items() if k[0] == only}
        stored = {k: v for k, v in stored.items() if k[0] == only}
    changed = created = deleted = 0
    now = timezone.now()
    for ident, (value, text, response) in expected.items():
        row = stored.pop(ident, None)
        if row is None:
            Score.build(
                follow_up,
                response=response,
                instrument=ident[0],
                key=ident[1],
                value=value,
                value_text=text,
                scoring_version=scoring.SCORING_VERSION,
                computed_at=now,
            ).save(force_insert=True)
            created += 1
        elif (row.value, row.value_text, row.response_id, row.scoring_version) != (
            value,
            text,
            response.pk if response else None,
            scoring.SCORING_VERSION,
        ):
            row.value, row.value_text, row.response = value, text, response
            row.scoring_version, row.computed_at = scoring.SCORING_VERSION, now
            row.save()
            changed += 1
    for row in stored.values():
        row.delete()
        deleted += 1
    return {"created": created, "changed": changed, "deleted": deleted}


class ResponseRefused(ValidationError):
    pass


@transaction.atomic
def response_submit(
    *,
    follow_up: FollowUp,
    instrument: str,
    answers: Mapping[str, Any],
    by: Any = None,
    mode: str,
    language: str = "en",
    completed_at: datetime | None = None,
    started_at: datetime | None = None,
    reason: str = "",
    handed_over_by: Any = None,
    missing: Mapping[str, str] | None = None,
    entered_via: str | None = None,
) -> Response:
    """Store one instrument's answers at a follow-up, score them, and update the follow-up's status.

    `by` is the staff user, or None for the patient by link. Changing answers already submitted needs a reason
    (kept in history). A patient cannot change a submitted instrument. Bad answers: ValidationError naming the
    item, and nothing is saved. `missing` says why items have no answer (MissingCode); a patient's blanks by
    link are "skipped". `entered_via` EXTERNAL_SYSTEM (with `by` None): a site's record system posted the answers
    (interop), treated as the patient's own (blanks skipped, no change once submitted).
    """
    follow_up = FollowUp.objects.select_for_update().select_related("episode__patient__site").get(pk=follow_up.pk)
    if mode not in Mode.values:
        raise ValidationError(f"Unknown mode {mode!r}.")
    if entered_via is not None and (entered_via not in EnteredVia.values or (by is None) == (entered_via == "staff")):
        raise ValidationError(f"Entered via {entered_via!r} does not fit the user given.")
    if instrument not in follow_up.instruments:
        owed = ", ".join(follow_up.instruments) or "nothing"
        raise ResponseRefused(f"{instrument} is not owed at this follow-up (owed: {owed}).")
    if follow_up.status == FollowUpStatus.WITHDRAWN:
        raise ResponseRefused(gettext("The patient has withdrawn consent: no answers are recorded."))
    if follow_up.status == FollowUpStatus.CANCELLED:
        raise ResponseRefused(gettext("The treatment was cancelled: no answers are recorded for its follow-up."))
    clean = validate_response_answers(instrument, answers)
    missing_codes = _missing_codes(instrument, clean, missing, patient=by is None)
    completed_at = completed_at or clock.now()
    if completed_at > clock.now() + timedelta(minutes=5):
        raise ValidationError(gettext("The answers cannot be dated in the future."))
    local_day = completed_at.astimezone(zoneinfo.ZoneInfo(follow_up.episode.patient.site.time_zone)).date()
    if follow_up.timepoint == Timepoint.BASELINE and local_day > follow_up.window_closes:
        episode = follow_up.episode
        said = (
            gettext(
                "A baseline describes the joint before the treatment, which was on %(index)s: answers given on "
                "%(day)s come after it and cannot count as the baseline."
            )
            if episode.status == EpisodeStatus.DONE
            else gettext(
                "A baseline describes the joint before the treatment, which was planned for %(index)s: answers "
                "given on %(day)s come after it and cannot count as the baseline."
            )
        )
        raise ValidationError(said % {"index": episode.index_date, "day": local_day}, code="after_treatment")
    if not follow_up.window_opens <= local_day <= follow_up.window_closes:
        raise ValidationError(
            gettext("Answers given on %(day)s fall outside the %(timepoint)s window (%(opens)s to %(closes)s).")
            % {
                "day": local_day,
                "timepoint": follow_up.get_timepoint_display(),
                "opens": follow_up.window_opens,
                "closes": follow_up.window_closes,
            }
        )
    via = entered_via or (EnteredVia.PATIENT_LINK if by is None else EnteredVia.STAFF)
    response = Response.objects.filter(follow_up=follow_up, instrument=instrument).first()
    if response is not None:
        if response.answers == clean and response.missing_codes == missing_codes:
            return response  # a double submit of the same answers: nothing to do
        if by is None:
            raise ResponseRefused("These answers were already submitted.")
        if not reason.strip():
            raise ValidationError(
                gettext("Say why answers already submitted are being changed."), code="reason_required"
            )
        response._change_reason = reason.strip()
    else:
        response = Response(follow_up=follow_up, instrument=instrument)
        response._change_reason = reason.strip() or ("entered by patient" if by is None else "entered by staff")
    response.answers = clean
    response.missing_codes = missing_codes
    response.instrument_version = instrument_version(instrument)
    response.scoring_version = scoring.SCORING_VERSION
    response.entered_via = via
    response.entered_by = by
    response.handed_over_by = handed_over_by
    response.mode = mode
    response.language = language
    response.started_at = started_at
    response.completed_at = completed_at
    if by is not None:
        response._history_user = by
    response.save()
    scores_write(follow_up=follow_up)
    _refresh_one(follow_up)
    follow_up._change_reason = response._change_reason
    follow_up.save()
    return response


def _missing_codes(
    instrument: str, clean: Mapping[str, Any], missing: Mapping[str, str] | None, *, patient: bool
) -> str:
    """The stored text of why items have no answer, or a ValidationError naming the item."""
    order = [item.code for item in asking.items_asked(instrument)]
    given = dict(missing or {})
    for code, reason in given.items():
        if code not in order:
            raise ValidationError(f"{code} is not an item of {instrument}.", code="missing_unknown_item")
        if reason not in MissingCode.values:
            raise ValidationError(
                f"{reason!r} is not a missing-data code (use one of: {', '.join(MissingCode.values)}).",
                code="missing_unknown_code",
            )
        if clean.get(code) is not None:
            raise ValidationError(
                f"{code} has an answer and a reason for having none: keep one.", code="missing_on_answered"
            )
    if patient:
        for code in order:
            if clean.get(code) is None:
                given.setdefault(code, MissingCode.SKIPPED)
    return encode_missing(given, order)


# Double data entry -----------------------------------------------------------------------------------------


def completed_at_for(day: date, site: Site) -> datetime:
    """A paper form's date as a moment: noon at the site, or just now if noon is still ahead."""
    moment = datetime.combine(day, time(12, 0), tzinfo=zoneinfo.ZoneInfo(site.time_zone))
    return min(moment, timezone.now() - timedelta(seconds=1)) if moment > timezone.now() else moment


def double_entry_on(site: Site) -> bool:
    return bool(FollowUpSettings.objects.filter(site=site, double_entry=True).exists())


@transaction.atomic
def double_entry_key(
    *,
    follow_up: FollowUp,
    instrument: str,
    answers: Mapping[str, Any],
    missing: Mapping[str, str],
    completed_on: date,
    by: Any,
    language: str = "en",
) -> tuple[str, Any]:
    """One keying of a paper form at a site with double entry. The first is kept aside (no response, no
    score); the second, by someone else, either agrees and the response is saved and scored ("agreed",
    Response), or differs and waits for resolution ("differ", DoubleEntry). Returns ("first", DoubleEntry)
    for the first keying."""
    follow_up = FollowUp.objects.select_for_update().select_related("episode__patient__site").get(pk=follow_up.pk)
    if Response.objects.filter(follow_up=follow_up, instrument=instrument).exists():
        raise ValidationError(gettext("These answers are already saved: change them from the follow-up instead."))
    clean = validate_response_answers(instrument, answers)
    codes = _missing_codes(instrument, clean, missing, patient=False)
    entry = DoubleEntry.objects.select_for_update().filter(follow_up=follow_up, instrument=instrument).first()
    now = clock.now()
    if entry is None:
        entry = DoubleEntry.objects.create(
            follow_up=follow_up,
            instrument=instrument,
            first_answers=clean,
            first_missing=codes,
            first_completed_on=completed_on,
            first_by=by,
            first_at=now,
        )
        return "first", entry
    if entry.first_by_id == by.pk:
        raise ValidationError(
            gettext("You keyed the first entry of this form: the second must be keyed by someone else."),
            code="same_person",
        )
    if entry.second_by_id is not None:
        raise ValidationError(
            gettext("Both entries of this form are in: resolve their differences."), code="to_resolve"
        )
    if clean == entry.first_answers and codes == entry.first_missing and completed_on == entry.first_completed_on:
        response = response_submit(
            follow_up=follow_up,
            instrument=instrument,
            answers=clean,
            missing=decode_missing(codes),
            by=by,
            mode=Mode.PAPER,
            language=language,
            completed_at=completed_at_for(completed_on, follow_up.episode.patient.site),
            reason=f"double entry agreed: keyed by {entry.first_by.get_username()} and {by.get_username()}",
        )
        entry.delete()
        return "agreed", response
    entry.second_answers, entry.second_missing, entry.second_completed_on = clean, codes, completed_on
    entry.second_by, entry.second_at = by, now
    entry.save()
    return "differ", entry


DATE_FIELD = "completed_on"


def double_entry_differences(entry: DoubleEntry) -> list[str]:
    """The fields the two keyings disagree on: item codes in the form's order, then "completed_on"."""
    first, second = decode_missing(entry.first_missing), decode_missing(entry.second_missing)
    out = [
        item.code
        for item in asking.items_asked(entry.instrument)
        if (entry.first_answers.get(item.code), first.get(item.code))
        != ((entry.second_answers or {}).get(item.code), second.get(item.code))
    ]
    if entry.first_completed_on != entry.second_completed_on:
        out.append(DATE_FIELD)
    return out


@transaction.atomic
def double_entry_resolve(*, entry: DoubleEntry, choices: Mapping[str, str], reason: str, by: Any) -> Response:
    """Settle each difference by choosing the first or the second keying; the response is saved and scored
    with the reason in its history."""
    entry = DoubleEntry.objects.select_for_update().select_related("follow_up__episode__patient__site").get(pk=entry.pk)
    if entry.second_by_id is None:
        raise ValidationError(gettext("The second entry has not been keyed yet."), code="not_keyed")
    if not reason.strip():
        raise ValidationError(gettext("Say how the differences were resolved (e.g. checked against the paper form)."))
    differences = double_entry_differences(entry)
    unchosen = [f for f in differences if choices.get(f) not in ("first", "second")]
    if unchosen:
        raise ValidationError(
            gettext("Choose the first or the second entry for: %(items)s.") % {"items": ", ".join(unchosen)},
            code="unchosen",
        )
    answers, missing = dict(entry.first_answers), decode_missing(entry.first_missing)
    second_missing = decode_missing(entry.second_missing)
    completed_on = entry.first_completed_on
    for f in differences:
        if choices[f] != "second":
            continue
        if f == DATE_FIELD:
            completed_on = entry.second_completed_on
            continue
        answers.pop(f, None)
        missing.pop(f, None)
        if (entry.second_answers or {}).get(f) is not None:
            answers[f] = entry.second_answers[f]
        elif f in second_missing:
            missing[f] = second_missing[f]
    fu = entry.follow_up
    response = response_submit(
        follow_up=fu,
        instrument=entry.instrument,
        answers=answers,
        missing=missing,
        by=by,
        mode=Mode.PAPER,
        completed_at=completed_at_for(completed_on, fu.episode.patient.site),
        reason=f"double entry resolved ({', '.join(differences)}): {reason.strip()}",
    )
    entry.delete()
    return response


@dataclass
class RescoreReport:
    follow_ups: int = 0
    rows_written: int = 0
    values_changed: int = 0
    changes: list[str] = field(default_factory=list)


RESCORE_CHUNK = 1000  # follow-ups per transaction: locks stay short, memory stays flat at millions of scores


def _other_version() -> Q:
    """Rows of any scoring version but the engine's, as two ranges: on the indexed score table both are index range
    scans (a `<>` is not), so finding the few stale rows among millions, or none, stays cheap."""
    return Q(scoring_version__lt=scoring.SCORING_VERSION) | Q(scoring_version__gt=scoring.SCORING_VERSION)


def scores_stale() -> Any:
    """Stored scores computed by another version of the scoring rules than the engine's (none after a rescore)."""
    return Score.objects.filter(_other_version()).order_by()


def scores_rescore(*, instrument: str | None = None, dry_run: bool = False, show: int = 20) -> RescoreReport:
    """Recompute every stored score whose scoring version differs from the engine's, and say what changed.

    The same comparison as `scores_write`, done for a chunk of follow-ups at a time: the chunk's follow-ups are
    locked (as response_submit locks one), their responses and scores read in two queries, and the differences
    written in bulk. With `dry_run` each chunk is recomputed inside a transaction that is rolled back.
    """
    stale = scores_stale()
    responses = Response.objects.filter(_other_version())
    if instrument:
        stale = stale.filter(instrument=instrument)
        responses = responses.filter(instrument=instrument)
    ids = sorted(
        set(stale.values_list("follow_up_id", flat=True)) | set(responses.values_list("follow_up_id", flat=True))
    )
    report = RescoreReport()
    for start in range(0, len(ids), RESCORE_CHUNK):
        with transaction.atomic():
            _rescore_chunk(ids[start : start + RESCORE_CHUNK], instrument, report, show)
            if dry_run:
                transaction.set_rollback(True)
    return report


def scores_table_vacuum() -> bool:
    """VACUUM (ANALYZE) the score table on PostgreSQL after a rescore rewrote it: until then summaries cannot read
    scores from their covering index alone (at 9 million scores the 12-month summary took 1.7 s instead of 0.55 s)
    and the planner's statistics are stale. VACUUM cannot run inside a transaction: a caller holding one (or
    another database) leaves it to autovacuum. Whether it ran."""
    from django.db import connection

    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return False
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM (ANALYZE) {connection.ops.quote_name(Score._meta.db_table)}")
    return True


def scores_rescore_batch(*, limit: int = RESCORE_CHUNK, show: int = 0) -> RescoreReport:
    """Rescore the next `limit` follow-ups that hold stale scores or responses, in one transaction; the beat task
    calls it until nothing is stale (outcomes.tasks.rescore_stale_scores). Idempotent and resumable: each batch is
    found afresh from what is still stale, its follow-ups are locked, and their scores recomputed from the answers
    as they are then, so a batch run twice, or by two workers at once (the second waits for the first's locks),
    writes nothing the second time. Each rescored response gets a history row that says so."""
    # Rows, not DISTINCT follow-ups: with millions stale, DISTINCT ... LIMIT would read them all for every batch,
    # while a plain LIMIT stops early. A follow-up has some 10 to 30 score rows, stored side by side.
    rows = scores_stale().values_list("follow_up_id", flat=True)[: limit * 30]
    ids = set(sorted(set(rows))[:limit])
    if not ids:  # responses whose follow-ups have no score of another version (an unscorable or clinician-only one)
        responses = Response.objects.filter(_other_version()).order_by()
        ids = set(sorted(set(responses.values_list("follow_up_id", flat=True)[: limit * 5]))[:limit])
    report = RescoreReport()
    if ids:
        with transaction.atomic():
            _rescore_chunk(sorted(ids), None, report, show)
    return report


def _rescore_chunk(chunk: list[int], instrument: str | None, report: RescoreReport, show: int) -> None:
    follow_ups = list(FollowUp.objects.select_for_update().filter(pk__in=chunk).order_by("pk"))
    answers: dict[int, dict[str, Response]] = defaultdict(dict)
    for r in Response.objects.filter(follow_up_id__in=chunk):
        answers[r.follow_up_id][r.instrument] = r
    stored: dict[int, dict[tuple[str, str], Score]] = defaultdict(dict)
    for row in Score.objects.filter(follow_up_id__in=chunk):
        stored[row.follow_up_id][(row.instrument, row.key)] = row
    now = timezone.now()
    created: list[Score] = []
    changed: list[Score] = []
    deleted: list[int] = []
    for fu in follow_ups:
        rows = stored[fu.pk]
        before = {ident: (row.value, row.value_text) for ident, row in rows.items()}
        expected = _expected_scores(fu, answers[fu.pk])
        if instrument:
            expected = {k: v for k, v in expected.items() if k[0] == instrument}
            rows = {k: v for k, v in rows.items() if k[0] == instrument}
        after = dict(before)
        for ident, (value, text, response) in expected.items():
            after[ident] = (value, text)
            row = rows.pop(ident, None)
            if row is None:
                created.append(
                    Score.build(
                        fu,
                        response=response,
                        instrument=ident[0],
                        key=ident[1],
                        value=value,
                        value_text=text,
                        scoring_version=scoring.SCORING_VERSION,
                        computed_at=now,
                    )
                )
            elif (row.value, row.value_text, row.response_id, row.scoring_version) != (
                value,
                text,
                response.pk if response else None,
                scoring.SCORING_VERSION,
            ):
                row.value, row.value_text, row.response = value, text, response
                row.scoring_version, row.computed_at = scoring.SCORING_VERSION, now
                changed.append(row)
        for ident, row in rows.items():
            deleted.append(row.pk)
            del after[ident]
        report.follow_ups += 1
        for ident in sorted(set(before) | set(after)):
            if before.get(ident) != after.get(ident):
                report.values_changed += 1
                if len(report.changes) < show:
                    old, new = _shown(before.get(ident)), _shown(after.get(ident))
                    report.changes.append(f"follow-up {fu.pk} {ident[0]}.{ident[1]}: {old} -> {new}")
    Score.objects.bulk_create(created, batch_size=2000)
    _scores_update(changed)
    Score.objects.filter(pk__in=deleted).delete()
    report.rows_written += len(created) + len(changed) + len(deleted)
    # The responses now scored by the engine's rules: one UPDATE, and a history row each (who: nobody, the rules
    # changed; why: from which version), so a response's history shows when and why its scores were recomputed.
    rescored = [
        r
        for by_instrument in answers.values()
        for r in by_instrument.values()
        if r.scoring_version != scoring.SCORING_VERSION and (not instrument or r.instrument == instrument)
    ]
    if rescored:
        Response.objects.filter(pk__in=[r.pk for r in rescored]).update(scoring_version=scoring.SCORING_VERSION)
        for r in rescored:
            r._change_reason = f"rescored: scoring version {r.scoring_version} -> {scoring.SCORING_VERSION}"
            r.scoring_version = scoring.SCORING_VERSION
        Response.history.bulk_history_create(rescored, batch_size=1000, update=True, default_date=now)


def _scores_update(rows: list[Score]) -> None:
    """Write recomputed scores back. On PostgreSQL: COPY into a temporary table and one UPDATE ... FROM (a
    full rescore rewrites millions of rows; bulk_update's CASE expressions would take most of the time)."""
    from django.db import connection

    if not rows:
        return
    table = Score._meta.db_table  # the model's own table name, never input: safe to format into SQL
    if connection.vendor != "postgresql":  # the SQLite demo: one prepared UPDATE per row beats bulk_update's CASE
        with connection.cursor() as cursor:
            cursor.executemany(
                f"UPDATE {table} SET value = %s, value_text = %s, response_id = %s, scoring_version = %s, "  # noqa: S608
                "computed_at = %s WHERE id = %s",
                [
                    (
                        r.value,
                        r.value_text,
                        r.response_id,
                        r.scoring_version,
                        connection.ops.adapt_datetimefield_value(r.computed_at),
                        r.pk,
                    )
                    for r in rows
                ],
            )
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMPORARY TABLE rescored (id bigint, value double precision, value_text varchar(20), "
            "response_id bigint, scoring_version varchar(20), computed_at timestamptz) ON COMMIT DROP"
        )
        with cursor.cursor.copy("COPY rescored FROM STDIN") as copy:
            for r in rows:
                copy.write_row((r.pk, r.value, r.value_text, r.response_id, r.scoring_version, r.computed_at))
        cursor.execute(
            f"UPDATE {table} AS s SET value = r.value, value_text = r.value_text, response_id = r.response_id, "  # noqa: S608
            "scoring_version = r.scoring_version, computed_at = r.computed_at FROM rescored AS r WHERE s.id = r.id"
        )
        cursor.execute("DROP TABLE rescored")


def _shown(pair: tuple | None) -> str:
    if pair is None:
        return "(none)"
    value, text = pair
    return text or ("not scorable" if value is None else f"{value:g}")


# Answers a patient left unsent ------------------------------------------------------------------------------


def drafts_flush(*, drafts: Iterable[Any], why: str) -> list[FollowUp]:
    """Keep what a patient answered but could not send (the window closed, the tablet session ended): each draft
    becomes a response dated when it was last saved, scored where the rules allow (a part left unanswered
    leaves its subscale empty), and the draft goes. Returns the follow-ups that received answers."""
    kept: list[FollowUp] = []
    for draft in drafts:
        token = draft.token
        tablet = token.channel == TokenChannel.TABLET
        try:
            with transaction.atomic():
                if not Response.objects.filter(follow_up_id=draft.follow_up_id, instrument=draft.instrument).exists():
                    response_submit(
                        follow_up=draft.follow_up,
                        instrument=draft.instrument,
                        answers=draft.answers,
                        by=None,
                        mode=Mode.TABLET if tablet else Mode.WEB,
                        language=getattr(getattr(token.patient, "identity", None), "preferred_language", "en"),
                        completed_at=draft.updated_at,
                        started_at=draft.started_at,
                        reason=f"entered by patient; kept unsent: {why}",
                        handed_over_by=token.started_by if tablet else None,
                    )
                    kept.append(draft.follow_up)
                Draft.objects.filter(pk=draft.pk).delete()
        except ValidationError:
            Draft.objects.filter(pk=draft.pk).delete()  # e.g. consent withdrawn, treatment cancelled: not kept
    return kept


def drafts_settle(*, now: datetime | None = None) -> int:
    """Beat's sweep: drafts whose follow-up window has closed at the site, or whose link or tablet session has
    ended, are kept as answers (drafts_flush). Returns how many follow-ups received answers."""
    now = now or clock.now()
    candidates = Draft.objects.filter(
        Q(follow_up__window_closes__lt=now.date() + timedelta(days=1))
        | Q(token__expires_at__lte=now)
        | Q(token__ended_at__isnull=False)
        | Q(token__channel=TokenChannel.TABLET, token__last_seen_at__lt=now - TABLET_IDLE)
    ).select_related("follow_up__episode__patient__site", "token__patient__identity", "token__started_by")
    stale = []
    for draft in candidates:
        token = draft.token
        closed = draft.follow_up.window_closes < asking.local_date(draft.follow_up.episode.patient.site, now)
        ended = token.expires_at <= now or token.ended_at is not None
        idle = token.channel == TokenChannel.TABLET and tablet_idle(token, now)
        if closed or ended or idle:
            stale.append(draft)
    return len(drafts_flush(drafts=stale, why="the window closed or the session ended before they were sent"))


def tablet_idle(token: Any, now: datetime) -> bool:
    """Has a clinic tablet session been idle too long (or lasted too long)?"""
    return (token.last_seen_at or token.created_at) < now - TABLET_IDLE or token.expires_at <= now


# A clinic tablet session ends after this long without a request from the tablet, and at the latest after
# TABLET_LONGEST (a session is for one visit).
TABLET_IDLE = timedelta(minutes=5)
TABLET_LONGEST = timedelta(hours=2)


def tablet_refusal(fu: FollowUp, chosen: Any, *, now: datetime) -> str:
    """Why a follow-up has nothing for the patient to answer on the tablet now, in words for staff."""
    if fu.status not in asking.LIVE or not asking.window_open(fu, asking.local_date(fu.episode.patient.site, now)):
        return gettext("its window is not open today")
    if chosen is not None and chosen.unworded:
        return gettext(
            "no patient wording is loaded for %(names)s in the patient's language: enter the answers as staff"
        ) % {"names": ", ".join(chosen.unworded)}
    if HHS_EXAM in fu.instruments and not fu.responses.filter(instrument=HHS_EXAM).exists():
        return gettext("only the clinician's HHS examination is left, which staff enter at the visit")
    return gettext("the patient has answered everything asked")


@transaction.atomic
def tablet_session_start(*, follow_up: FollowUp, by: Any, end_other: bool = False, now: datetime | None = None) -> Any:
    """Staff hand the clinic tablet to the patient of `follow_up`: a session token for that patient's follow-ups
    that ask something by link now (this one among them), bound to the device's session by the caller. Refused,
    with the reason, when there is nothing to answer there or another tablet session for the patient is open
    (unless `end_other`, which ends it first, keeping what was answered)."""
    import hashlib
    import secrets

    now = now or clock.now()
    fu = FollowUp.objects.select_for_update().select_related("episode__patient__site").get(pk=follow_up.pk)
    patient = (
        Patient.objects.select_for_update(of=("self",)).select_related("identity", "site").get(pk=fu.episode.patient_id)
    )
    if patient.is_withdrawn:
        raise ValidationError(gettext("The patient has withdrawn consent: nothing is asked."))
    open_ = [
        t
        for t in AccessToken.objects.filter(patient=patient, channel=TokenChannel.TABLET, ended_at__isnull=True)
        if t.expires_at > now and not tablet_idle(t, now)
    ]
    if open_ and not end_other:
        other = open_[0]
        raise ValidationError(
            gettext(
                "A clinic tablet session for this patient is already open on another device (started %(when)s by "
                "%(user)s). It ends when the patient sends, after %(idle)s idle minutes, or when you end it here."
            )
            % {
                "when": f"{timezone.localtime(other.created_at):%H:%M}",
                "user": other.started_by,
                "idle": int(TABLET_IDLE.total_seconds() // 60),
            },
            code="tablet_open",
        )
    for other in open_:
        AccessToken.objects.filter(pk=other.pk).update(ended_at=now)
        drafts_flush(drafts=list(Draft.objects.filter(token=other)), why="the tablet session was ended by staff")
    candidates = FollowUp.objects.filter(episode__patient=patient, status__in=asking.LIVE).select_related(
        "episode__patient__site", "episode__patient__identity"
    )
    asks = asking.asked(candidates, now=now)
    chosen = asks.get(fu.pk)
    if chosen is None or not chosen.by_link:
        why = tablet_refusal(fu, chosen, now=now)
        raise ValidationError(
            gettext("This follow-up cannot be answered on the tablet: %(why)s.") % {"why": why}, code="nothing_to_ask"
        )
    token = AccessToken.objects.create(
        token_hash=hashlib.sha256(secrets.token_urlsafe(32).encode()).hexdigest(),  # never used as a link
        patient=patient,
        channel=TokenChannel.TABLET,
        started_by=by,
        expires_at=now + TABLET_LONGEST,
        last_seen_at=now,
    )
    token.follow_ups.set([a.follow_up for a in asks.values() if a.by_link])
    return token
