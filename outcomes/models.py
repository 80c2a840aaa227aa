"""Follow-up: outcome plans, scheduled follow-ups with windows, questionnaire responses and stored scores.

A treatment episode owes a baseline and 3, 6, 12 and 24-month follow-ups (outcomes.schedule has the windows).
Each follow-up lists the instruments owed (from the outcome plan). A response holds the answers of one
instrument, item by item, always validated by the scoring engine before it is stored; scores are written in
the same transaction, in long form (one row per score key) with the scoring version that produced them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from registry.access import SiteScopedQuerySet
from registry.models import Joint, Protocol, Site, TreatmentEpisode
from scoring import Output, get_instrument
from scoring.eq5d import VALUE_SETS


class Timepoint(models.TextChoices):
    BASELINE = "baseline", _("Baseline")
    M3 = "m3", _("3 months")
    M6 = "m6", _("6 months")
    M12 = "m12", _("12 months")
    M24 = "m24", _("24 months")


class FollowUpStatus(models.TextChoices):
    SCHEDULED = "scheduled", pgettext_lazy("follow-up status", "Scheduled")
    OPEN = "open", pgettext_lazy("follow-up status", "Open")
    COMPLETED = "completed", pgettext_lazy("follow-up status", "Completed")
    PARTIAL = "partial", pgettext_lazy("follow-up status", "Partially completed")
    MISSED = "missed", pgettext_lazy("follow-up status", "Missed")
    WITHDRAWN = "withdrawn", pgettext_lazy("follow-up status", "Withdrawn")
    CANCELLED = "cancelled", _("Cancelled (treatment cancelled)")
    REFUSED = "refused", _("Refused (the patient declined this follow-up)")
    LOST = "lost", _("Lost to follow-up (moved away)")


class EndedReason(models.TextChoices):
    """Why staff ended a follow-up before it was answered (a call's outcome). Counted as such in completion
    figures, never as missing at random."""

    REFUSED = "refused", pgettext_lazy("call outcome", "Refused")
    MOVED_AWAY = "moved_away", pgettext_lazy("call outcome", "Moved away")


class MissingCode(models.TextChoices):
    """Why an item has no answer: stored beside the answers, never as a value."""

    NOT_ASKED = "not_asked", _("Not asked")
    DECLINED = "declined", _("Declined to answer")
    NOT_APPLICABLE = "not_applicable", _("Not applicable")
    UNREADABLE = "unreadable", _("Unreadable on the form")
    SKIPPED = "skipped", _("Left blank by the patient")


class Mode(models.TextChoices):
    WEB = "web", _("Web (patient link)")
    PHONE = "phone", pgettext_lazy("answered by", "Phone")
    PAPER = "paper", pgettext_lazy("answered on", "Paper")
    TABLET = "tablet", _("Clinic tablet")
    EXTERNAL = "external", _("External system (FHIR)")
    IMPORTED = "imported", _("Imported from the clinic's earlier records")


class EnteredVia(models.TextChoices):
    PATIENT_LINK = "patient_link", _("Patient (personal link or clinic tablet)")
    STAFF = "staff", pgettext_lazy("entered by", "Staff")
    EXTERNAL_SYSTEM = "external_system", _("External system (a site's integration key)")


# The instruments a plan may ask. `hhs_exam` is the clinician part of the Harris Hip Score (deformity and range
# of motion); with the patient's mHHS answers of the same follow-up it gives the full HHS.
HHS_EXAM = "hhs_exam"
ASKABLE_INSTRUMENTS = [
    ("koos", "KOOS"),
    ("hoos", "HOOS"),
    ("womac", _("WOMAC LK3.1 (asked on its own)")),
    ("mhhs", _("Modified Harris Hip Score (patient part)")),
    (HHS_EXAM, _("Harris Hip Score, clinician examination (deformity, range of motion)")),
    ("odi", _("Oswestry Disability Index")),
    ("vas", _("Pain VAS (0-100 mm)")),
    ("nrs", _("Pain NRS (0-10)")),
    # The second set (SCORING-2.md). A full KOOS also gives KOOS JR and KOOS-12, a full HOOS gives HOOS JR
    # (stored as derived scores): ask the short forms on their own only where the long form is not asked.
    ("koos_jr", _("KOOS JR (asked on its own)")),
    ("koos12", _("KOOS-12 (asked on its own)")),
    ("hoos_jr", _("HOOS JR (asked on its own)")),
    ("promis10", _("PROMIS Global Health v1.2 (PROMIS-10)")),
    ("ikdc", _("IKDC Subjective Knee Evaluation Form")),
    ("lysholm", _("Lysholm knee score")),
    ("tegner", _("Tegner activity level")),
    ("eq5d5l", _("EQ-5D-5L (index in the site's value set)")),
]
ASKABLE_IDS = [code for code, _ in ASKABLE_INSTRUMENTS]


class OutcomePlan(models.Model):
    """Which instruments are asked at which timepoints for one joint. The most specific active plan wins: the
    episode's protocol, then its site, then the registry-wide default (no site, no protocol)."""

    name = models.CharField(_("name"), max_length=100)
    joint = models.CharField(_("joint"), max_length=10, choices=Joint.choices)
    site = models.ForeignKey(
        Site,
        verbose_name=_("site"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="outcome_plans",
        help_text=_("Empty: the registry-wide default."),
    )
    protocol = models.ForeignKey(
        Protocol,
        verbose_name=_("protocol"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="outcome_plans",
    )
    active = models.BooleanField(_("active"), default=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["joint", "site__code", "name"]
        verbose_name = _("outcome plan")
        verbose_name_plural = _("outcome plans")
        constraints = [
            models.CheckConstraint(condition=Q(joint__in=Joint.values), name="plan_joint_valid"),
        ]

    def __str__(self) -> str:
        scope = self.protocol or self.site or gettext("registry default")
        return f"{self.name} ({self.get_joint_display()}, {scope})"

    def clean(self) -> None:
        if self.protocol_id and self.site_id and self.protocol.site_id != self.site_id:
            raise ValidationError({"protocol": gettext("This protocol belongs to another site.")})
        if self.active:
            clash = OutcomePlan.objects.filter(
                active=True, joint=self.joint, site_id=self.site_id, protocol_id=self.protocol_id
            ).exclude(pk=self.pk)
            if clash.exists():
                raise ValidationError(gettext("Another active plan already covers this joint at this scope."))


class OutcomePlanItem(models.Model):
    plan = models.ForeignKey(OutcomePlan, verbose_name=_("plan"), on_delete=models.CASCADE, related_name="items")
    timepoint = models.CharField(_("timepoint"), max_length=10, choices=Timepoint.choices)
    instrument = models.CharField(_("instrument"), max_length=20, choices=ASKABLE_INSTRUMENTS)

    class Meta:
        ordering = ["plan", "timepoint", "instrument"]
        verbose_name = _("plan item")
        verbose_name_plural = _("plan items")
        constraints = [
            models.UniqueConstraint(fields=["plan", "timepoint", "instrument"], name="plan_item_unique"),
            models.CheckConstraint(condition=Q(timepoint__in=Timepoint.values), name="plan_item_timepoint_valid"),
            models.CheckConstraint(condition=Q(instrument__in=ASKABLE_IDS), name="plan_item_instrument_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.get_timepoint_display()}: {self.get_instrument_display()}"


class FollowUpQuerySet(SiteScopedQuerySet):
    def unfinished(self) -> FollowUpQuerySet:
        return self.filter(status__in=FollowUp.UNFINISHED)


class FollowUp(models.Model):
    UNFINISHED = (FollowUpStatus.SCHEDULED, FollowUpStatus.OPEN, FollowUpStatus.PARTIAL, FollowUpStatus.MISSED)

    # Indexed by follow_up_one_per_timepoint (episode first) and follow_up_episode_day; no index of its own.
    episode = models.ForeignKey(
        TreatmentEpisode,
        verbose_name=_("treatment episode"),
        on_delete=models.CASCADE,
        related_name="follow_ups",
        db_index=False,
    )
    timepoint = models.CharField(_("timepoint"), max_length=10, choices=Timepoint.choices)
    target_date = models.DateField(_("target date"))
    window_opens = models.DateField(_("window opens"))
    window_closes = models.DateField(_("window closes"))
    status = models.CharField(
        _("status"), max_length=12, choices=FollowUpStatus.choices, default=FollowUpStatus.SCHEDULED
    )
    instruments = models.JSONField(
        _("instruments"), default=list, help_text=_("Instrument ids owed at this follow-up.")
    )
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)
    days_from_index = models.IntegerField(
        _("days from the index date"),
        null=True,
        blank=True,
        help_text=_("Day of the (first) answers, counted from the index date."),
    )
    # Patient contact. A round is one opening of the window: when the index date moves the window, the
    # round goes up and invitation and reminders start afresh for the new window.
    contact_round = models.PositiveSmallIntegerField(_("contact round"), default=1)
    invited_at = models.DateTimeField(_("invited at"), null=True, blank=True)
    reminders_sent = models.PositiveSmallIntegerField(_("reminders sent"), default=0)
    next_reminder_at = models.DateTimeField(_("next reminder at"), null=True, blank=True)
    last_reminded_at = models.DateTimeField(_("last reminded at"), null=True, blank=True)
    ended_reason = models.CharField(
        _("ended because"),
        max_length=12,
        choices=EndedReason.choices,
        blank=True,
        help_text=_("Set when staff end the follow-up after a call (refused, moved away)."),
    )
    call_list_since = models.DateTimeField(
        _("on the call list since"),
        null=True,
        blank=True,
        help_text=_("No answer after the reminders: staff should call the patient."),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords()
    objects = FollowUpQuerySet.as_manager()
    SITE_PATH = "episode__patient__site"

    class Meta:
        ordering = ["window_closes", "id"]
        verbose_name = _("follow-up")
        verbose_name_plural = _("follow-ups")
        constraints = [
            models.UniqueConstraint(fields=["episode", "timepoint"], name="follow_up_one_per_timepoint"),
            models.CheckConstraint(condition=Q(status__in=FollowUpStatus.values), name="follow_up_status_valid"),
            models.CheckConstraint(condition=Q(timepoint__in=Timepoint.values), name="follow_up_timepoint_valid"),
            models.CheckConstraint(
                condition=Q(window_opens__lte=models.F("window_closes")), name="follow_up_window_ordered"
            ),
            models.CheckConstraint(
                condition=Q(window_opens__lte=models.F("target_date"), target_date__lte=models.F("window_closes")),
                name="follow_up_target_in_window",
            ),
        ]
        indexes = [
            # The worklist: unfinished follow-ups by window end; the status refresh: scheduled by window start.
            models.Index(fields=["status", "window_closes"], name="follow_up_status_closes"),
            models.Index(fields=["status", "window_opens"], name="follow_up_status_opens"),
            # The dispatcher: open follow-ups never invited, and those whose reminder is due.
            models.Index(
                fields=["status", "invited_at"], name="follow_up_uninvited", condition=Q(invited_at__isnull=True)
            ),
            # The dispatcher's claim (_queue_invitations): live, never invited, window closing first. In that
            # order the claim stops after its batch; with the index above it sorted every candidate first
            # (65 ms at 73,000 follow-ups; see docs/benchmarks.md).
            models.Index(
                fields=["window_closes", "id"],
                name="follow_up_to_invite",
                condition=Q(invited_at__isnull=True, status__in=["open", "partial"]),
            ),
            models.Index(
                fields=["next_reminder_at"], name="follow_up_reminder_due", condition=Q(next_reminder_at__isnull=False)
            ),
            # Kaplan-Meier's last contact per episode, read from the index alone (430 -> 85 ms at 730,000
            # follow-ups; see docs/benchmarks.md).
            models.Index(fields=["episode", "days_from_index"], name="follow_up_episode_day"),
        ]

    def __str__(self) -> str:
        return gettext("%(timepoint)s follow-up of %(episode)s") % {
            "timepoint": self.get_timepoint_display(),
            "episode": self.episode,
        }

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED

    def days_left(self, today=None) -> int:
        today = today or timezone.localdate()
        return (self.window_closes - today).days

    @property
    def is_overdue(self) -> bool:
        """Open but its window closes within a week: call the patient."""
        return self.status in (FollowUpStatus.OPEN, FollowUpStatus.PARTIAL) and 0 <= self.days_left() <= 7


FINISHED = (
    FollowUpStatus.COMPLETED,
    FollowUpStatus.WITHDRAWN,
    FollowUpStatus.CANCELLED,
    FollowUpStatus.REFUSED,
    FollowUpStatus.LOST,
)


class CallOutcome(models.TextChoices):
    NO_ANSWER = "no_answer", _("No answer")
    LEFT_MESSAGE = "left_message", _("Left a message")
    ANSWERED_NOW = "answered_now", _("Answering by phone now")
    WILL_USE_LINK = "will_use_link", _("Will answer by link")
    REFUSED = "refused", pgettext_lazy("call outcome", "Refused")
    WRONG_NUMBER = "wrong_number", _("Wrong number")
    MOVED_AWAY = "moved_away", pgettext_lazy("call outcome", "Moved away")


class CallAttempt(models.Model):
    """One call to a patient about a follow-up, as the coordinator recorded it. Never edited: a call is a fact."""

    follow_up = models.ForeignKey(FollowUp, verbose_name=_("follow-up"), on_delete=models.CASCADE, related_name="calls")
    outcome = models.CharField(pgettext_lazy("call", "outcome"), max_length=16, choices=CallOutcome.choices)
    note = models.CharField(_("note"), max_length=300, blank=True)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("called by"), on_delete=models.PROTECT, related_name="+"
    )
    at = models.DateTimeField(_("called at"))

    objects = SiteScopedQuerySet.as_manager()
    SITE_PATH = "follow_up__episode__patient__site"

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("call")
        verbose_name_plural = _("calls")
        constraints = [
            models.CheckConstraint(condition=Q(outcome__in=CallOutcome.values), name="call_outcome_valid"),
        ]
        indexes = [models.Index(fields=["follow_up", "at"], name="call_follow_up_at")]

    def __str__(self) -> str:
        return f"{self.get_outcome_display()} ({self.at:%Y-%m-%d %H:%M})"


class Response(models.Model):
    """One instrument's answers at one follow-up. Written only through outcomes.services.response_submit, which
    validates the answers with the scoring engine and stores the scores in the same transaction."""

    follow_up = models.ForeignKey(
        FollowUp, verbose_name=_("follow-up"), on_delete=models.PROTECT, related_name="responses"
    )
    instrument = models.CharField(_("instrument"), max_length=20, choices=ASKABLE_INSTRUMENTS)
    answers = models.JSONField(_("answers"), help_text=_("Item code -> stored value; validated by the scoring engine."))
    missing_codes = models.CharField(
        _("missing-data codes"),
        max_length=1000,
        blank=True,
        help_text=_(
            "Why items have no answer: 'P3:declined;S7:not_asked', in the form's order (MissingCode). "
            "Released to research as its own column, never as a value."
        ),
    )
    instrument_version = models.CharField(_("instrument version"), max_length=80)
    scoring_version = models.CharField(_("scoring version"), max_length=20)
    entered_via = models.CharField(_("entered via"), max_length=20, choices=EnteredVia.choices)
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("entered by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    handed_over_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("tablet handed over by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("Clinic tablet: the staff member who started the patient's session."),
    )
    mode = models.CharField(_("mode"), max_length=10, choices=Mode.choices)
    language = models.CharField(_("language"), max_length=10, default="en")
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    completed_at = models.DateTimeField(
        _("answered at"), help_text=_("When the answers were given (for paper: the date on the form).")
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords()
    objects = SiteScopedQuerySet.as_manager()
    SITE_PATH = "follow_up__episode__patient__site"

    class Meta:
        ordering = ["follow_up", "instrument"]
        verbose_name = _("response")
        verbose_name_plural = _("responses")
        constraints = [
            models.UniqueConstraint(fields=["follow_up", "instrument"], name="response_one_per_instrument"),
            models.CheckConstraint(condition=Q(instrument__in=ASKABLE_IDS), name="response_instrument_valid"),
            models.CheckConstraint(condition=Q(mode__in=Mode.values), name="response_mode_valid"),
            models.CheckConstraint(condition=Q(entered_via__in=EnteredVia.values), name="response_via_valid"),
            models.CheckConstraint(
                condition=Q(entered_via__in=["patient_link", "external_system"]) | Q(entered_by__isnull=False),
                name="response_staff_entry_has_user",
            ),
        ]

    def __str__(self) -> str:
        return gettext("%(instrument)s at %(follow_up)s") % {
            "instrument": self.get_instrument_display(),
            "follow_up": self.follow_up,
        }

    @property
    def missing(self) -> dict[str, str]:
        """Item code -> missing-data code."""
        return decode_missing(self.missing_codes)


def encode_missing(missing: Mapping[str, str], order: list[str]) -> str:
    position = {code: i for i, code in enumerate(order)}
    return ";".join(f"{c}:{missing[c]}" for c in sorted(missing, key=lambda c: (position.get(c, len(order)), c)))


def decode_missing(text: str) -> dict[str, str]:
    return dict(part.split(":", 1) for part in text.split(";") if part) if text else {}


class DoubleEntry(models.Model):
    """A paper form keyed once and waiting for its second, independent keying (sites with double entry on). It
    holds no response and no score: those are written when both keyings agree or their differences are
    resolved (outcomes.services.double_entry_key / double_entry_resolve)."""

    follow_up = models.ForeignKey(FollowUp, on_delete=models.CASCADE, related_name="double_entries")
    instrument = models.CharField(max_length=20, choices=ASKABLE_INSTRUMENTS)
    first_answers = models.JSONField()
    first_missing = models.CharField(max_length=1000, blank=True)
    first_completed_on = models.DateField()
    first_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    first_at = models.DateTimeField()
    second_answers = models.JSONField(null=True, blank=True)
    second_missing = models.CharField(max_length=1000, blank=True)
    second_completed_on = models.DateField(null=True, blank=True)
    second_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    second_at = models.DateTimeField(null=True, blank=True)

    objects = SiteScopedQuerySet.as_manager()
    SITE_PATH = "follow_up__episode__patient__site"

    class Meta:
        verbose_name = _("double entry")
        verbose_name_plural = _("double entries")
        constraints = [
            models.UniqueConstraint(fields=["follow_up", "instrument"], name="double_entry_one_per_instrument"),
            models.CheckConstraint(
                condition=Q(second_by__isnull=True) | ~Q(second_by=models.F("first_by")),
                name="double_entry_two_people",
            ),
        ]

    def __str__(self) -> str:
        return f"Double entry of {self.instrument} at {self.follow_up}"


class Score(models.Model):
    """One output of one scored instrument at one follow-up, long form. Derived rows (WOMAC from KOOS/HOOS, the
    full HHS from mHHS + examination) are written by the same service as their source answers."""

    follow_up = models.ForeignKey(FollowUp, on_delete=models.CASCADE, related_name="scores")
    # The follow-up's episode and timepoint, copied when the score is written (Score.build): summaries read a
    # score's episode and timepoint from one index instead of joining every score to its follow-up. Neither ever
    # changes on a follow-up (on PostgreSQL a trigger refuses such an update; outcomes/migrations/0006).
    episode = models.ForeignKey(
        TreatmentEpisode,
        on_delete=models.DO_NOTHING,  # the follow-up's CASCADE deletes the score
        db_constraint=False,
        db_index=False,
        editable=False,
        related_name="+",
    )
    timepoint = models.CharField(max_length=10, choices=Timepoint.choices, editable=False)
    response = models.ForeignKey(
        Response,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="scores",
        help_text="The response scored; empty for the full HHS, which needs two.",
    )
    instrument = models.CharField(max_length=20)
    key = models.CharField(max_length=30)
    value = models.FloatField(null=True, blank=True)
    value_text = models.CharField(max_length=20, blank=True)
    scoring_version = models.CharField(max_length=20)
    computed_at = models.DateTimeField(default=timezone.now)

    objects = SiteScopedQuerySet.as_manager()
    SITE_PATH = "follow_up__episode__patient__site"

    class Meta:
        ordering = ["follow_up", "instrument", "key"]
        constraints = [
            models.UniqueConstraint(fields=["follow_up", "instrument", "key"], name="score_one_per_key"),
        ]
        indexes = [
            # Research exports filter by instrument and key; summaries read (episode, value) of one score key at
            # the timepoints they show from the index alone on PostgreSQL, without the follow-ups (see
            # docs/benchmarks.md). Rescore finds rows of an old scoring version.
            models.Index(
                fields=["instrument", "key", "timepoint"],
                include=["episode", "value"],
                name="score_instrument_key_tp",
            ),
            models.Index(fields=["scoring_version"], name="score_version"),
        ]

    def __str__(self) -> str:
        shown = self.value_text or ("—" if self.value is None else f"{self.value:g}")
        return f"{self.instrument}.{self.key} = {shown}"

    @property
    def display_value(self) -> str:
        if self.value_text:
            return self.value_text
        return "not scorable" if self.value is None else f"{self.value:.1f}"

    @classmethod
    def build(cls, follow_up: FollowUp, **values: Any) -> Score:
        """An unsaved score of `follow_up`, carrying its episode and timepoint (every writer goes through here)."""
        return cls(follow_up=follow_up, episode_id=follow_up.episode_id, timepoint=follow_up.timepoint, **values)


class Worklist(FollowUp):
    """The coordinator's follow-up worklist: the same rows as FollowUp, listed for today's work."""

    class Meta:
        proxy = True
        verbose_name = _("worklist entry")
        verbose_name_plural = _("follow-up worklist")


class InstrumentWording(models.Model):
    """A site's validated wording of an instrument in one language, loaded from a file the site holds (KOOS and
    HOOS are free to obtain; WOMAC and ODI need a licence). Validated by scoring.load_wording on upload."""

    site = models.ForeignKey(Site, verbose_name=_("site"), on_delete=models.CASCADE, related_name="wordings")
    instrument = models.CharField(_("instrument"), max_length=20)
    language = models.CharField(_("language"), max_length=10)
    content = models.JSONField(pgettext_lazy("wording", "content"), help_text=_("The wording file, as validated."))
    source = models.CharField(pgettext_lazy("wording", "source"), max_length=200, blank=True)
    uploaded_at = models.DateTimeField(_("uploaded at"), auto_now=True)

    history = HistoricalRecords()
    objects = SiteScopedQuerySet.as_manager()
    SITE_PATH = "site"

    class Meta:
        verbose_name = _("instrument wording")
        verbose_name_plural = _("instrument wordings")
        constraints = [
            models.UniqueConstraint(fields=["site", "instrument", "language"], name="wording_one_per_language"),
        ]

    def __str__(self) -> str:
        return f"{self.instrument} ({self.language}) at {self.site.code}"


# Patient contact ---------------------------------------------------------------------------------------------


# The EQ-5D-5L value sets a site may choose (scoring.eq5d), and the one a site's country implies where the
# registry has that country's set. GB: England's (Devlin 2018) is the only UK value set scoring has.
EQ5D5L_VALUE_SETS = tuple(VALUE_SETS)
EQ5D5L_VALUE_SET_CHOICES = [(code, f"{code}: {VALUE_SETS[code].name}") for code in EQ5D5L_VALUE_SETS]
EQ5D5L_COUNTRY_DEFAULT = {"KR": "KR", "JP": "JP", "CN": "CN", "US": "US", "DE": "DE", "GB": "GB-ENG"}
assert set(EQ5D5L_COUNTRY_DEFAULT.values()) <= set(EQ5D5L_VALUE_SETS)

# Scores the registry stores beside an instrument's own outputs: the EQ-5D-5L value set of each index (a category
# row, key "value_set", of the same response; empty where the site has no value set and no index was computed).
REGISTRY_OUTPUTS: dict[str, tuple[Output, ...]] = {
    "eq5d5l": (
        Output(
            "value_set",
            "EQ-5D-5L value set the index was computed with (the site's; compare indices of one value set only)",
            None,
            None,
            "none",
            kind="category",
            choices=EQ5D5L_VALUE_SETS,
        ),
    ),
}


def stored_outputs(instrument: str) -> tuple[Output, ...]:
    """Every score key stored for an instrument: the engine's outputs, then the registry's (REGISTRY_OUTPUTS)."""
    return (*get_instrument(instrument).outputs, *REGISTRY_OUTPUTS.get(instrument, ()))


class FollowUpSettings(models.Model):
    """A site's follow-up contact policy. Sites without a row use the defaults below."""

    site = models.OneToOneField(
        Site, verbose_name=_("site"), on_delete=models.CASCADE, related_name="follow_up_settings"
    )
    reminder_days = models.CharField(
        _("reminder days"),
        max_length=40,
        default="7,14",
        help_text=_("Days after the invitation on which reminders go, e.g. 7,14."),
    )
    call_after_days = models.PositiveSmallIntegerField(
        _("call list after (days)"),
        default=21,
        help_text=_("Days after the invitation when an unanswered follow-up joins the call list."),
    )
    confirm_birth_year = models.BooleanField(
        _("confirm the year of birth"),
        default=False,
        help_text=_("Ask the patient's year of birth before the questionnaire opens."),
    )
    show_patient_chart = models.BooleanField(
        _("show the patient's chart"), default=True, help_text=_("Show patients a chart of their own scores.")
    )
    digest_hour = models.PositiveSmallIntegerField(
        _("digest hour"),
        default=8,
        help_text=_("Local hour after which the daily call-list digest goes to coordinators."),
    )
    double_entry = models.BooleanField(
        _("double entry"),
        default=False,
        help_text=_(
            "Paper forms are keyed twice, by two people; differences are resolved with a reason before the "
            "answers are saved and scored."
        ),
    )
    eq5d5l_value_set = models.CharField(
        _("EQ-5D-5L value set"),
        max_length=10,
        blank=True,
        choices=EQ5D5L_VALUE_SET_CHOICES,
        help_text=_(
            "The country value set the EQ-5D-5L index is computed with. Empty: the site's country's, where the "
            "registry has one (KR, JP, CN, US, DE; GB uses England's), else no index is computed. Changing it "
            "recomputes the site's stored indices."
        ),
    )

    history = HistoricalRecords()
    objects = SiteScopedQuerySet.as_manager()
    SITE_PATH = "site"

    class Meta:
        verbose_name = _("follow-up settings")
        verbose_name_plural = _("follow-up settings")
        constraints = [
            models.CheckConstraint(condition=Q(digest_hour__lte=23), name="settings_digest_hour_valid"),
            models.CheckConstraint(
                condition=Q(eq5d5l_value_set__in=["", *EQ5D5L_VALUE_SETS]), name="settings_eq5d5l_value_set_valid"
            ),
        ]

    def __str__(self) -> str:
        return gettext("Follow-up settings of %(site)s") % {"site": self.site.code}

    def clean(self) -> None:
        try:
            days = self.reminder_day_list()
        except ValueError:
            raise ValidationError(
                {"reminder_days": gettext("Give whole numbers of days separated by commas.")}
            ) from None
        if days != sorted(set(days)) or any(d < 1 for d in days):
            raise ValidationError({"reminder_days": gettext("Give increasing, positive numbers of days, e.g. 7,14.")})
        if days and self.call_after_days <= days[-1]:
            raise ValidationError({"call_after_days": gettext("The call list comes after the last reminder.")})

    def reminder_day_list(self) -> list[int]:
        return [int(part) for part in self.reminder_days.split(",") if part.strip()]


def eq5d5l_value_set(*, chosen: str, country: str) -> str | None:
    """The value set a site's EQ-5D-5L indices are computed with: its own choice, else its country's where the
    registry has one, else None (the answers are stored and no index is computed)."""
    return chosen or EQ5D5L_COUNTRY_DEFAULT.get((country or "").upper())


class TokenChannel(models.TextChoices):
    EMAIL = "email", _("Emailed link")
    SMS = "sms", _("Texted link")
    TABLET = "tablet", _("Clinic tablet session")


class AccessToken(models.Model):
    """A patient's personal link. Only the SHA-256 of the 256-bit token is stored; the token itself exists only in
    the email. It opens the questionnaires of the follow-ups it covers until the last of their windows closes.

    A clinic tablet session is a token too, never written anywhere: staff start it on the clinic's device, it
    lives in that device's session only, and it ends when the patient sends, after a few idle minutes, or when
    staff end it (`ended_at`)."""

    token_hash = models.CharField(max_length=64, unique=True)
    channel = models.CharField(max_length=10, choices=TokenChannel.choices, default=TokenChannel.EMAIL)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Clinic tablet: who handed the tablet to the patient.",
    )
    last_seen_at = models.DateTimeField(null=True, blank=True, help_text="Clinic tablet: the last request.")
    ended_at = models.DateTimeField(null=True, blank=True, help_text="Clinic tablet: when the session ended.")
    patient = models.ForeignKey("registry.Patient", on_delete=models.CASCADE, related_name="access_tokens")
    follow_ups = models.ManyToManyField(FollowUp, related_name="access_tokens")
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    birth_year_failures = models.PositiveSmallIntegerField(default=0)
    locked_until = models.DateTimeField(null=True, blank=True)

    objects = SiteScopedQuerySet.as_manager()
    SITE_PATH = "patient__site"

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(channel__in=TokenChannel.values), name="token_channel_valid"),
            models.CheckConstraint(
                condition=Q(channel__in=["email", "sms"]) | Q(started_by__isnull=False), name="token_tablet_has_starter"
            ),
        ]

    def __str__(self) -> str:
        if self.channel == TokenChannel.TABLET:
            return f"clinic tablet session for {self.patient} ({self.created_at:%Y-%m-%d %H:%M})"
        how = "texted" if self.channel == TokenChannel.SMS else "emailed"
        return f"{how} link for {self.patient} (expires {self.expires_at:%Y-%m-%d})"


class MessageKind(models.TextChoices):
    INVITATION = "invitation", _("Invitation")
    REMINDER = "reminder", pgettext_lazy("message kind", "Reminder")
    DIGEST = "digest", _("Call-list digest")


class MessageChannel(models.TextChoices):
    EMAIL = "email", pgettext_lazy("contact channel", "Email")
    SMS = "sms", pgettext_lazy("contact channel", "Text message")


class MessageStatus(models.TextChoices):
    PENDING = "pending", _("Waiting to be sent")
    SENDING = "sending", pgettext_lazy("message status", "Sending")
    SENT = "sent", pgettext_lazy("message status", "Sent")
    FAILED = "failed", _("Failed permanently")
    CANCELLED = "cancelled", pgettext_lazy("message status", "Cancelled")


class Message(models.Model):
    """One email or text message to send (the outbox). A row is claimed with a conditional update before it is
    sent, so two workers, two dispatchers or a redelivered task never send it twice."""

    kind = models.CharField(_("kind"), max_length=12, choices=MessageKind.choices)
    channel = models.CharField(_("channel"), max_length=6, choices=MessageChannel.choices, default=MessageChannel.EMAIL)
    site = models.ForeignKey(Site, verbose_name=_("site"), on_delete=models.CASCADE, related_name="messages")
    patient = models.ForeignKey(
        "registry.Patient",
        verbose_name=_("patient"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="messages",
    )
    to_email = models.EmailField(_("to email"), blank=True)
    to_phone = models.CharField(
        _("to phone"), max_length=16, blank=True, help_text=_("Text messages: the number, in E.164.")
    )
    provider_ref = models.CharField(
        _("provider reference"),
        max_length=64,
        blank=True,
        help_text=_("Text messages: the provider's reference for the message sent."),
    )
    dedupe_key = models.CharField(max_length=100, unique=True)
    status = models.CharField(_("status"), max_length=10, choices=MessageStatus.choices, default=MessageStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"), default=timezone.now)
    claimed_at = models.DateTimeField(_("claimed at"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    last_error = models.CharField(_("last error"), max_length=300, blank=True)
    context = models.JSONField(default=dict, blank=True, help_text="Counts for digests; never clinical data.")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    resend_of = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    objects = SiteScopedQuerySet.as_manager()
    SITE_PATH = "site"

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("message")
        verbose_name_plural = _("outbox")
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=MessageKind.values), name="message_kind_valid"),
            models.CheckConstraint(condition=Q(channel__in=MessageChannel.values), name="message_channel_valid"),
            models.CheckConstraint(condition=Q(status__in=MessageStatus.values), name="message_status_valid"),
        ]
        indexes = [
            # The sender: pending messages whose attempt is due.
            models.Index(fields=["next_attempt_at"], name="message_pending_due", condition=Q(status="pending")),
        ]

    def __str__(self) -> str:
        values = {
            "kind": self.get_kind_display(),
            "to": self.patient or self.site.code,
            "status": self.get_status_display(),
        }
        if self.channel == MessageChannel.SMS:
            return gettext("%(kind)s (text) to %(to)s (%(status)s)") % values
        return gettext("%(kind)s to %(to)s (%(status)s)") % values


class MessageItem(models.Model):
    """Which follow-ups a patient message covers. The unique key (follow-up, kind, round, number, channel) is what
    makes an invitation or a given reminder impossible to send twice by one channel for one follow-up."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="items")
    follow_up = models.ForeignKey(FollowUp, on_delete=models.CASCADE, related_name="message_items")
    kind = models.CharField(max_length=12, choices=MessageKind.choices)
    round = models.PositiveSmallIntegerField()
    number = models.PositiveSmallIntegerField(help_text="0 for the invitation, 1.. for reminders.")
    channel = models.CharField(max_length=6, choices=MessageChannel.choices, default=MessageChannel.EMAIL)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["follow_up", "kind", "round", "number", "channel"], name="message_item_once_per_channel"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.round}.{self.number} for follow-up {self.follow_up_id}"


class EmailOptOut(models.Model):
    """The patient asked for no more messages: emails and text messages alike (the link in an email, a STOP reply
    to a text, or told staff). Deleting it (with history) undoes the opt-out."""

    patient = models.OneToOneField(
        "registry.Patient", verbose_name=_("patient"), on_delete=models.CASCADE, related_name="email_opt_out"
    )
    opted_out_at = models.DateTimeField(_("opted out at"), default=timezone.now)
    source = models.CharField(
        _("how the patient asked"),
        max_length=20,
        choices=[
            ("link", _("Link in an email")),
            ("stop", _("Replied STOP to a text message")),
            ("staff", _("Told staff")),
        ],
    )

    history = HistoricalRecords()
    objects = SiteScopedQuerySet.as_manager()
    SITE_PATH = "patient__site"

    class Meta:
        verbose_name = _("opt-out from messages")
        verbose_name_plural = _("opt-outs from messages")

    def __str__(self) -> str:
        return gettext("%(patient)s opted out on %(date)s") % {
            "patient": self.patient,
            "date": f"{self.opted_out_at:%Y-%m-%d}",
        }


class Draft(models.Model):
    """A patient's answers to one questionnaire page, saved so they can stop and come back. Submitted at the end
    through response_submit; deleted then."""

    token = models.ForeignKey(AccessToken, on_delete=models.CASCADE, related_name="drafts")
    follow_up = models.ForeignKey(FollowUp, on_delete=models.CASCADE, related_name="drafts")
    instrument = models.CharField(max_length=20)
    answers = models.JSONField()
    pages_done = models.JSONField(
        default=list, help_text="The parts of the instrument answered so far (1-based; a long one is asked in parts)."
    )
    started_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["token", "follow_up", "instrument"], name="draft_one_per_page"),
        ]

    def __str__(self) -> str:
        return f"draft {self.instrument} for follow-up {self.follow_up_id}"


# Importing a clinic's earlier records (outcomes.imports) -----------------------------------------------------


class ImportStatus(models.TextChoices):
    QUEUED = "queued", _("Waiting to start")
    CHECKING = "checking", _("Checking rows")
    WRITING = "writing", _("Writing")
    DONE = "done", _("Finished")
    FAILED = "failed", _("Refused: nothing was imported")


class ImportRun(models.Model):
    """One file of a clinic's earlier records (a spreadsheet or a REDCap export), checked (dry run) or imported.

    A run is all or nothing: every row lands in one transaction, or none does and the report says which row and
    column are wrong. The file is kept (as uploaded) until it has been imported, so a dry run can be committed
    without uploading it again; a committed run keeps only its name and SHA-256."""

    site = models.ForeignKey(Site, verbose_name=_("site"), on_delete=models.PROTECT, related_name="import_runs")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("imported by"), on_delete=models.PROTECT, related_name="+"
    )
    file_name = models.CharField(_("file name"), max_length=200)
    sha256 = models.CharField(_("SHA-256 of the file"), max_length=64)
    dictionary_name = models.CharField(_("data dictionary"), max_length=200, blank=True)
    source = models.CharField(
        _("source system"), max_length=40, help_text=_("The mapping's name for the clinic's system.")
    )
    mapping = models.JSONField(_("mapping"))
    content = models.BinaryField(editable=False, null=True, help_text="The file, until it is imported.")
    dictionary = models.BinaryField(editable=False, null=True, help_text="REDCap: the data dictionary file.")
    dry_run = models.BooleanField(_("dry run"), default=True)
    language = models.CharField(max_length=10, default="en", help_text="The language the report is written in.")
    status = models.CharField(_("status"), max_length=10, choices=ImportStatus.choices, default=ImportStatus.QUEUED)
    rows_total = models.PositiveIntegerField(_("rows"), default=0)
    rows_done = models.PositiveIntegerField(_("rows checked"), default=0)
    counts = models.JSONField(_("counts"), default=dict, blank=True)
    report = models.JSONField(
        _("problems"), default=list, blank=True, help_text="[{row, column, message}], row None for the whole file."
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    objects = SiteScopedQuerySet.as_manager()
    SITE_PATH = "site"

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("import of earlier records")
        verbose_name_plural = _("imports of earlier records")
        constraints = [
            models.CheckConstraint(condition=Q(status__in=ImportStatus.values), name="import_run_status_valid"),
        ]
        indexes = [
            # The admin list of a site's imports, newest first.
            models.Index(fields=["site", "-created_at"], name="import_run_site_recent"),
        ]

    def __str__(self) -> str:
        kind = _("dry run") if self.dry_run else _("import")
        return f"{self.file_name} ({kind}, {self.created_at:%Y-%m-%d %H:%M})" if self.created_at else self.file_name

    @property
    def is_running(self) -> bool:
        return self.status in (ImportStatus.QUEUED, ImportStatus.CHECKING, ImportStatus.WRITING)

    @property
    def landed(self) -> bool:
        """The rows of this run are in the registry (a real run that found no problem)."""
        return not self.dry_run and self.status == ImportStatus.DONE and not self.report


class ImportKey(models.Model):
    """What an imported row became, under the key of the clinic's own system: site, source, record id and event.
    A record's patient and episode have the event "" ; each event's row its follow-up. A second run of the same
    file finds every key and adds nothing."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    source = models.CharField(max_length=40)
    record = models.CharField(max_length=100, help_text="The record id in the clinic's system.")
    event = models.CharField(max_length=100, blank=True, help_text="The event (timepoint) in the clinic's system.")
    patient = models.ForeignKey("registry.Patient", on_delete=models.CASCADE, related_name="+")
    episode = models.ForeignKey(TreatmentEpisode, on_delete=models.CASCADE, related_name="+")
    follow_up = models.ForeignKey(FollowUp, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    run = models.ForeignKey(ImportRun, on_delete=models.PROTECT, related_name="keys")
    row = models.PositiveIntegerField(help_text="The row of the file it came from (the header is row 1).")

    objects = SiteScopedQuerySet.as_manager()
    SITE_PATH = "site"

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["site", "source", "record", "event"], name="import_key_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.source}:{self.record}:{self.event or '-'}"
