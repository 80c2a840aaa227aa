"""Sites, staff memberships, patients and the clinical facts of a regenerative treatment.

Identifying data (name, contact details, date of birth) lives in PatientIdentity, apart from the clinical rows,
so that research exports and most queries never touch it. Every clinical model keeps history
(django-simple-history): who changed what, when, and why.

Invariants are guarded twice: in the database (check and unique constraints, on PostgreSQL and SQLite alike)
and in `clean()`, which the admin forms call, so a user sees a field error instead of an IntegrityError.
Cross-table rules (an administration not before its episode's index date, nothing before the patient's birth)
cannot be check constraints; they live in `clean()` and in the services that write these rows.
"""

from __future__ import annotations

import secrets
from datetime import date, timedelta
from datetime import timezone as dt_timezone
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from simple_history.models import HistoricalRecords

from registry import clock, phones
from registry.access import SiteScopedQuerySet


def _known_country(value: str) -> None:
    if value and value.upper() not in phones.COUNTRIES:
        raise ValidationError(
            _("Unknown country code “%(code)s”: give the two-letter ISO code, e.g. KR, JP, CN.") % {"code": value}
        )


def _parent(obj: models.Model, name: str) -> models.Model | None:
    """The related row `name` of `obj`, or None if unset. An admin inline sets it to its parent before the parent
    is saved (the id is still None then), and the parent's dates must be checked all the same."""
    try:
        return getattr(obj, name)
    except ObjectDoesNotExist:
        return None


# The first place on Earth to start a new day (UTC+14). A clinic east of the registry's TIME_ZONE is a day ahead for
# part of its morning (8 a.m. in Seoul is 11 p.m. the day before in UTC); a field validator doesn't know the record's
# site, so "in the future" means after today there.
_FIRST_TO_A_NEW_DAY = dt_timezone(timedelta(hours=14))


def _not_in_future(value: date | None) -> None:
    if value is not None and value > timezone.now().astimezone(_FIRST_TO_A_NEW_DAY).date():
        raise ValidationError(_("This date is in the future."))


# Sites and staff ------------------------------------------------------------------------------------------


class Site(models.Model):
    code = models.SlugField(
        _("code"), max_length=20, unique=True, help_text=_("Short code shown to researchers, e.g. HRJ.")
    )
    name = models.CharField(_("name"), max_length=200)
    time_zone = models.CharField(_("time zone"), max_length=64, default="UTC")
    language = models.CharField(_("language"), max_length=10, default="en", choices=settings.LANGUAGES)
    contact_email = models.EmailField(
        _("contact email"), help_text=_("Shown to patients in emails and on questionnaire pages.")
    )
    contact_phone = models.CharField(_("contact phone"), max_length=40, blank=True)
    country = models.CharField(
        _("country"),
        max_length=2,
        blank=True,
        validators=[_known_country],
        help_text=_(
            "ISO country code (KR, JP, CN ...): patients' mobile numbers without + are read as this country's."
        ),
    )
    active = models.BooleanField(_("active"), default=True)
    withdrawal_policy = models.CharField(
        _("withdrawal policy"),
        max_length=12,
        choices=[
            ("keep", _("Keep the record; stop all contact")),
            ("anonymise", _("Anonymise: remove identity, keep de-identified clinical data")),
        ],
        default="keep",
        help_text=_("What happens to a withdrawn patient's record, as the site's consent form says."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    history = HistoricalRecords()
    objects = SiteScopedQuerySet.as_manager()
    SITE_PATH = ""  # a Site is its own scope

    class Meta:
        ordering = ["code"]
        verbose_name = _("site")
        verbose_name_plural = _("sites")

    def __str__(self) -> str:
        return f"{self.code} — {self.name}"

    def clean(self) -> None:
        import zoneinfo

        self.country = (self.country or "").upper()
        try:
            zoneinfo.ZoneInfo(self.time_zone)
        except Exception:
            raise ValidationError({"time_zone": _("Unknown time zone: %(zone)s.") % {"zone": self.time_zone}}) from None


class Membership(models.Model):
    class Role(models.TextChoices):
        COORDINATOR = "coordinator", _("Coordinator")
        CLINICIAN = "clinician", _("Clinician")
        VIEWER = "viewer", _("Viewer (read only)")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="memberships"
    )
    site = models.ForeignKey(Site, verbose_name=_("site"), on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(_("role"), max_length=20, choices=Role.choices, default=Role.COORDINATOR)
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    history = HistoricalRecords()
    objects = SiteScopedQuerySet.as_manager()
    SITE_PATH = "site"

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [
            models.UniqueConstraint(fields=["user", "site"], name="membership_one_per_user_site"),
            models.CheckConstraint(
                condition=Q(role__in=["coordinator", "clinician", "viewer"]), name="membership_role_valid"
            ),
        ]

    def __str__(self) -> str:
        return _("%(user)s at %(site)s (%(role)s)") % {
            "user": self.user,
            "site": self.site.code,
            "role": self.get_role_display(),
        }


class ReleasePolicy(models.Model):
    """How a site's research rows are generalised and checked against re-identification (research/kanon.py): ages
    and BMIs are released as bands, and every combination of the quasi-identifiers (site, sex, age band, BMI band)
    holds at least `k` subjects, else values are blanked until it does. A site without a policy row uses the
    defaults below."""

    DEFAULT_K = 5
    DEFAULT_AGE_BAND_YEARS = 10
    DEFAULT_AGE_TOP_CODE = 90
    DEFAULT_BMI_BAND = 5
    DEFAULT_BMI_TOP_CODE = 40
    # HIPAA Safe Harbor pools ages of 90 and over: a site may pool from younger, never from older.
    AGE_TOP_CODE_MAX = 90

    site = models.OneToOneField(Site, on_delete=models.CASCADE, related_name="release_policy", verbose_name=_("site"))
    k = models.PositiveSmallIntegerField(
        _("k (smallest group of subjects)"),
        default=DEFAULT_K,
        validators=[MinValueValidator(2), MaxValueValidator(100)],
        help_text=_(
            "Every released combination of site, sex, age band and BMI band holds at least this many subjects."
        ),
    )
    age_band_years = models.PositiveSmallIntegerField(
        _("age band width (years)"),
        default=DEFAULT_AGE_BAND_YEARS,
        validators=[MinValueValidator(1), MaxValueValidator(30)],
        help_text=_("Ages are released in bands of this many years (10: 50-59); 1 releases the year of age."),
    )
    age_top_code = models.PositiveSmallIntegerField(
        _("oldest age band from (years)"),
        default=DEFAULT_AGE_TOP_CODE,
        validators=[MinValueValidator(50), MaxValueValidator(AGE_TOP_CODE_MAX)],
        help_text=_("Ages from this one up are released as one band (90: 90+); at most 90."),
    )
    bmi_band = models.PositiveSmallIntegerField(
        _("BMI band width (kg/m²)"),
        default=DEFAULT_BMI_BAND,
        validators=[MinValueValidator(1), MaxValueValidator(20)],
        help_text=_("BMIs are released in bands of this width (5: 25-29.9)."),
    )
    bmi_top_code = models.PositiveSmallIntegerField(
        _("highest BMI band from (kg/m²)"),
        null=True,
        blank=True,
        default=DEFAULT_BMI_TOP_CODE,
        validators=[MinValueValidator(25), MaxValueValidator(80)],
        help_text=_("BMIs from this one up are released as one band (40: 40+); empty for no such band."),
    )

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("research release policy")
        verbose_name_plural = _("research release policies")
        constraints = [
            models.CheckConstraint(condition=Q(k__gte=2, k__lte=100), name="release_policy_k_range"),
            models.CheckConstraint(
                condition=Q(age_band_years__gte=1, age_band_years__lte=30), name="release_policy_age_band_range"
            ),
            models.CheckConstraint(
                condition=Q(age_top_code__gte=50, age_top_code__lte=90), name="release_policy_age_top_code_range"
            ),
            models.CheckConstraint(
                condition=Q(bmi_band__gte=1, bmi_band__lte=20), name="release_policy_bmi_band_range"
            ),
            models.CheckConstraint(
                condition=Q(bmi_top_code__isnull=True) | Q(bmi_top_code__gte=25, bmi_top_code__lte=80),
                name="release_policy_bmi_top_code_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.site.code}: k={self.k}"


# Patients -------------------------------------------------------------------------------------------------

# Crockford's base32 without I, L, O, U: unambiguous when read over the phone.
_REGISTRY_ID_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_registry_id() -> str:
    """A random, registry-wide pseudonymous patient ID (50 bits), never derived from any identifier."""
    return "R-" + "".join(secrets.choice(_REGISTRY_ID_ALPHABET) for _ in range(10))


class Sex(models.TextChoices):
    FEMALE = "female", _("Female")
    MALE = "male", _("Male")
    OTHER = "other", _("Other")
    UNKNOWN = "unknown", _("Unknown")


class ContactChannel(models.TextChoices):
    EMAIL = "email", pgettext_lazy("contact channel", "Email")
    SMS = "sms", pgettext_lazy("contact channel", "Text message")
    BOTH = "both", pgettext_lazy("contact channel", "Email and text message")

    @classmethod
    def texts(cls) -> list[str]:
        return [cls.SMS.value, cls.BOTH.value]

    @classmethod
    def emails(cls) -> list[str]:
        return [cls.EMAIL.value, cls.BOTH.value]


class Patient(models.Model):
    """The clinical side of a patient. Identifying data is in `identity` (PatientIdentity)."""

    registry_id = models.CharField(
        _("registry ID"), max_length=16, unique=True, default=new_registry_id, editable=False
    )
    site = models.ForeignKey(Site, verbose_name=_("site"), on_delete=models.PROTECT, related_name="patients")
    sex = models.CharField(_("sex"), max_length=10, choices=Sex.choices)
    consent_version = models.CharField(
        _("consent version"),
        max_length=40,
        blank=True,
        help_text=_(
            "Version of the consent form signed on paper. Leave this and the date empty for the patient to give "
            "consent themselves, on the site's consent document, when they open their first link."
        ),
    )
    consent_date = models.DateField(_("consent date"), null=True, blank=True, validators=[_not_in_future])
    consent_follow_up = models.BooleanField(_("consents to registry follow-up"), default=True)
    consent_research = models.BooleanField(_("consents to research use"), default=True)
    consent_email = models.BooleanField(_("consents to contact by email"), default=True)
    contact_channel = models.CharField(
        _("how the patient wants to be contacted"),
        max_length=6,
        choices=ContactChannel.choices,
        default=ContactChannel.EMAIL,
        help_text=_("Invitations and reminders go this way; text messages need a mobile number."),
    )
    withdrawn_on = models.DateField(
        _("withdrawn on"),
        null=True,
        blank=True,
        validators=[_not_in_future],
        help_text=_("Date consent was withdrawn: all follow-up and contact stop."),
    )
    withdrawal_reason = models.CharField(_("withdrawal reason"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    history = HistoricalRecords()
    objects = SiteScopedQuerySet.as_manager()
    SITE_PATH = "site"

    class Meta:
        ordering = ["-id"]
        verbose_name = _("patient")
        verbose_name_plural = _("patients")
        constraints = [
            models.CheckConstraint(condition=Q(sex__in=Sex.values), name="patient_sex_valid"),
            models.CheckConstraint(
                condition=Q(contact_channel__in=ContactChannel.values), name="patient_contact_channel_valid"
            ),
            models.CheckConstraint(
                condition=Q(withdrawn_on__isnull=True) | Q(withdrawn_on__gte=models.F("consent_date")),
                name="patient_withdrawal_after_consent",
            ),
            models.CheckConstraint(
                condition=Q(consent_date__isnull=True, consent_version="")
                | (Q(consent_date__isnull=False) & ~Q(consent_version="")),
                name="patient_consent_date_with_version",
            ),
        ]
        indexes = [
            # The admin patient list of one site, newest first.
            models.Index(fields=["site", "-id"], name="patient_site_recent"),
        ]

    def __str__(self) -> str:
        return self.registry_id

    @property
    def is_withdrawn(self) -> bool:
        return self.withdrawn_on is not None

    @property
    def follow_up_stopped(self) -> bool:
        """Withdrawn, or consent recorded without consent to follow-up (declined): nothing more is asked."""
        return self.withdrawn_on is not None or (self.consent_date is not None and not self.consent_follow_up)

    @property
    def consent_pending(self) -> bool:
        """Consent not yet recorded: the patient is asked on the site's consent document by their first link."""
        return self.consent_date is None

    def clean(self) -> None:
        self.consent_version = (self.consent_version or "").strip()
        if self.consent_date and not self.consent_version:
            raise ValidationError({"consent_version": _("Give the version of the consent form the patient signed.")})
        if self.consent_version and not self.consent_date:
            raise ValidationError({"consent_date": _("Give the date the consent form was signed.")})
        if self.withdrawn_on and self.consent_date and self.withdrawn_on < self.consent_date:
            raise ValidationError({"withdrawn_on": _("Withdrawal cannot be before the consent date.")})
        if self.withdrawn_on and not self.withdrawal_reason:
            raise ValidationError({"withdrawal_reason": _("Record why consent was withdrawn.")})


class PatientIdentity(models.Model):
    """Identifying data, kept apart from clinical data. Never leaves the site's admin."""

    patient = models.OneToOneField(
        Patient, verbose_name=_("patient"), on_delete=models.CASCADE, related_name="identity", primary_key=True
    )
    given_name = models.CharField(_("given name"), max_length=100)
    family_name = models.CharField(_("family name"), max_length=100)
    date_of_birth = models.DateField(_("date of birth"), validators=[_not_in_future])
    email = models.EmailField(_("email"), blank=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True, help_text=_("For calls, as staff dial it."))
    mobile = models.CharField(
        _("mobile number for text messages"),
        max_length=16,
        blank=True,
        help_text=_(
            "As the patient gives it; stored in international form (+82…). Without +, read as a number of the "
            "patient's country."
        ),
    )
    country = models.CharField(
        _("country"),
        max_length=2,
        blank=True,
        validators=[_known_country],
        help_text=_("ISO country code of the patient's own country, if not the site's (a patient from abroad)."),
    )
    preferred_language = models.CharField(
        _("preferred language"), max_length=10, choices=settings.LANGUAGES, default="en"
    )
    medical_record_number = models.CharField(_("site medical record number"), max_length=40, blank=True)

    history = HistoricalRecords()
    objects = SiteScopedQuerySet.as_manager()
    SITE_PATH = "patient__site"

    class Meta:
        verbose_name = _("patient identity")
        verbose_name_plural = _("patient identities")
        constraints = [
            models.CheckConstraint(condition=Q(date_of_birth__gte=date(1900, 1, 1)), name="identity_dob_plausible"),
            models.CheckConstraint(condition=Q(mobile="") | Q(mobile__startswith="+"), name="identity_mobile_e164"),
        ]
        indexes = [
            # Staff search patients by family name.
            models.Index(fields=["family_name", "given_name"], name="identity_name"),
        ]

    def __str__(self) -> str:
        return f"{self.family_name}, {self.given_name}"

    def _patient_as_posted(self) -> Patient | None:
        """The patient this identity belongs to: as posted with it on the patient page (the admin's identity
        formset hands it over, since Django's inline clears a primary-key parent before validation), else saved."""
        return getattr(self, "posted_patient", None) or getattr(self, "patient", None)

    @property
    def phone_country(self) -> str:
        """The country a number without + is read in: the patient's own, else the site's."""
        if self.country:
            return self.country
        patient = self._patient_as_posted()
        return patient.site.country if patient is not None and patient.site_id else ""

    def clean(self) -> None:
        self.country = (self.country or "").upper()
        try:
            self.mobile = phones.mobile_normalise(self.mobile, country=self.phone_country)
        except ValidationError as exc:
            raise ValidationError({"mobile": exc.messages}) from None
        patient = self._patient_as_posted()
        if patient is not None and patient.contact_channel in ContactChannel.texts() and not self.mobile:
            raise ValidationError(
                {"mobile": _("The patient is to be contacted by text message: give a mobile number, or choose email.")}
            )


# Consent given by the patient ----------------------------------------------------------------------------


class ConsentDocument(models.Model):
    """A site's registry consent document in one language and version: what a patient whose consent is not yet
    recorded reads, and answers, when they open their first link."""

    site = models.ForeignKey(Site, verbose_name=_("site"), on_delete=models.PROTECT, related_name="consent_documents")
    language = models.CharField(_("language"), max_length=10, choices=settings.LANGUAGES)
    version = models.CharField(
        _("version"), max_length=40, help_text=_("As printed on the document, e.g. 2.1. Stored with every answer.")
    )
    title = models.CharField(_("title"), max_length=200)
    text = models.TextField(
        _("text"), help_text=_("The document as the patient reads it; a blank line starts a paragraph.")
    )
    demo = models.BooleanField(
        _("demo wording"), default=False, help_text=_("Synthetic wording for the demo, not a real consent document.")
    )
    active = models.BooleanField(
        _("offered to patients"),
        default=True,
        help_text=_("The newest active document in the patient's language is the one patients are asked."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    history = HistoricalRecords()
    objects = SiteScopedQuerySet.as_manager()
    SITE_PATH = "site"

    class Meta:
        ordering = ["site", "language", "-created_at"]
        verbose_name = _("consent document")
        verbose_name_plural = _("consent documents")
        constraints = [
            models.UniqueConstraint(fields=["site", "language", "version"], name="consent_document_once"),
            models.CheckConstraint(condition=~Q(version=""), name="consent_document_has_version"),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.version}, {self.language})"

    def clean(self) -> None:
        self.version = (self.version or "").strip()
        if not self.version:
            raise ValidationError({"version": _("Give the document's version, as printed on it (e.g. 2.1).")})
        if not (self.text or "").strip():
            raise ValidationError({"text": _("The document has no text.")})

    @property
    def paragraphs(self) -> list[str]:
        return [p.strip() for p in self.text.replace("\r\n", "\n").split("\n\n") if p.strip()]

    @classmethod
    def for_patient(cls, patient: Patient, language: str) -> ConsentDocument | None:
        """The document a patient is asked: the newest active one in `language`, else in the site's language,
        else in English."""
        offered = cls.objects.filter(site_id=patient.site_id, active=True).order_by("-created_at", "-id")
        for code in (language, patient.site.language, "en"):
            found = offered.filter(language=code).first()
            if found is not None:
                return found
        return None


class ConsentDecision(models.Model):
    """What a patient answered to the site's consent document, or their withdrawal: one row per answer, never
    changed. The patient's consent fields follow the newest."""

    class Choice(models.TextChoices):
        AGREE = "agree", _("Agrees to follow-up and research use")
        FOLLOW_UP_ONLY = "follow_up_only", _("Agrees to follow-up, not to research use")
        DECLINE = "decline", _("Declines")
        WITHDRAW = "withdraw", _("Withdraws consent")

    class Channel(models.TextChoices):
        EMAIL = "email", _("Link in an email")
        SMS = "sms", _("Link in a text message")
        TABLET = "tablet", _("Clinic tablet")

    patient = models.ForeignKey(
        Patient, verbose_name=_("patient"), on_delete=models.CASCADE, related_name="consent_decisions"
    )
    decision = models.CharField(_("decision"), max_length=16, choices=Choice.choices)
    document = models.ForeignKey(
        ConsentDocument, verbose_name=_("consent document"), on_delete=models.PROTECT, null=True, blank=True
    )
    version = models.CharField(_("document version"), max_length=40, blank=True)
    language = models.CharField(_("language"), max_length=10, choices=settings.LANGUAGES)
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices)
    decided_at = models.DateTimeField(_("decided at"))

    objects = SiteScopedQuerySet.as_manager()
    SITE_PATH = "patient__site"

    class Meta:
        ordering = ["-decided_at", "-id"]
        verbose_name = _("consent decision")
        verbose_name_plural = _("consent decisions")
        constraints = [
            models.CheckConstraint(
                condition=Q(decision__in=["agree", "follow_up_only", "decline", "withdraw"]),
                name="consent_decision_valid",
            ),
            models.CheckConstraint(
                condition=Q(decision="withdraw") | ~Q(version=""), name="consent_decision_has_version"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_decision_display()} ({self.decided_at:%Y-%m-%d})"


# Treatments -----------------------------------------------------------------------------------------------


class Regulator(models.TextChoices):
    JP_ASRM = "jp_asrm", _("Japan: Act on the Safety of Regenerative Medicine")
    KR_NHT = "kr_nht", _("Korea: new health technology")
    KR_ARMAB = "kr_armab", _("Korea: Advanced Regenerative Bio Act")
    US_IND = "us_ind", _("USA: FDA IND / IDE")
    EU_HE = "eu_he", _("EU: hospital exemption")
    ETHICS = "ethics", _("Ethics committee only")
    OTHER = "other", _("Other")


class Protocol(models.Model):
    """A site's registered treatment plan (e.g. under Japan's Act on the Safety of Regenerative Medicine)."""

    Regulator = Regulator

    site = models.ForeignKey(Site, verbose_name=_("site"), on_delete=models.PROTECT, related_name="protocols")
    code = models.CharField(_("code"), max_length=40)
    name = models.CharField(_("name"), max_length=200)
    version = models.CharField(_("version"), max_length=20, default="1")
    regulator = models.CharField(_("regulator"), max_length=20, choices=Regulator.choices)
    regulator_reference = models.CharField(
        _("regulator reference"),
        max_length=100,
        blank=True,
        help_text=_("Registration or approval number given by the regulator."),
    )
    approved_on = models.DateField(_("approved on"), null=True, blank=True, validators=[_not_in_future])
    active = models.BooleanField(_("active"), default=True)
    description = models.TextField(_("description"), blank=True)

    history = HistoricalRecords()
    objects = SiteScopedQuerySet.as_manager()
    SITE_PATH = "site"

    class Meta:
        ordering = ["site__code", "code"]
        verbose_name = _("protocol")
        verbose_name_plural = _("protocols")
        constraints = [
            models.UniqueConstraint(fields=["site", "code", "version"], name="protocol_unique_code_version"),
            models.CheckConstraint(condition=Q(regulator__in=Regulator.values), name="protocol_regulator_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.code} v{self.version} — {self.name}"


class Joint(models.TextChoices):
    # In context: the patient pages have their own plainer "Knee" (outcomes.asking), which this must not replace.
    KNEE = "knee", pgettext_lazy("joint", "Knee")
    HIP = "hip", pgettext_lazy("joint", "Hip")
    SPINE = "spine", pgettext_lazy("joint", "Spine")
    OTHER = "other", pgettext_lazy("joint", "Other")


class Side(models.TextChoices):
    LEFT = "left", _("Left")
    RIGHT = "right", _("Right")
    MIDLINE = "midline", _("Midline / not applicable")


class Diagnosis(models.TextChoices):
    PRIMARY_OA = "primary_oa", _("Primary osteoarthritis")
    POST_TRAUMATIC_OA = "post_traumatic_oa", _("Post-traumatic osteoarthritis")
    CARTILAGE_DEFECT = "cartilage_defect", _("Focal cartilage defect")
    AVN = "avn", _("Avascular necrosis")
    DEGENERATIVE_DISC = "degenerative_disc", _("Degenerative disc disease")
    FACET_ARTHROPATHY = "facet_arthropathy", _("Facet arthropathy")
    OTHER = "other", _("Other")


class ProductType(models.TextChoices):
    BMAC = "bmac", _("Bone-marrow aspirate concentrate (BMAC)")
    SVF = "svf", _("Stromal vascular fraction (SVF)")
    CULTURED_MSC = "cultured_msc", _("Culture-expanded autologous MSCs")
    ALLOGENEIC_MSC = "allogeneic_msc", _("Allogeneic MSCs (e.g. umbilical cord)")
    PRP = "prp", _("Platelet-rich plasma (PRP)")
    HA = "ha", _("Hyaluronic acid")
    STEROID = "steroid", _("Corticosteroid")
    OTHER = "other", _("Other")


CELL_PRODUCTS = {ProductType.BMAC, ProductType.SVF, ProductType.CULTURED_MSC, ProductType.ALLOGENEIC_MSC}


class CellSource(models.TextChoices):
    AUTOLOGOUS = "autologous", _("Autologous")
    ALLOGENEIC = "allogeneic", _("Allogeneic")
    NOT_APPLICABLE = "na", _("Not applicable (acellular)")


class EpisodeStatus(models.TextChoices):
    PLANNED = "planned", _("Planned")
    DONE = "done", _("Done")
    CANCELLED = "cancelled", _("Cancelled")


# How far ahead a treatment may be planned: a baseline questionnaire asked more than a year before the treatment
# would not describe the joint that is treated.
PLAN_AHEAD_DAYS = 365


def site_date(site: Site | None) -> date:
    """Today's date at a site (in its own time zone), or at the first place on Earth to start a new day."""
    import zoneinfo

    now = clock.now()  # the demo's clock can move (DEBUG only); production: the real time
    if site is None:
        return now.astimezone(_FIRST_TO_A_NEW_DAY).date()
    try:
        return now.astimezone(zoneinfo.ZoneInfo(site.time_zone)).date()
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return now.astimezone(_FIRST_TO_A_NEW_DAY).date()


class TreatmentEpisode(models.Model):
    """One treated joint (or spinal level) of one patient, from the index date on. A bilateral treatment is
    two episodes, one per side, each with its own follow-up.

    An episode may be registered ahead of the treatment (status planned, index date = the planned date): its
    baseline window opens at once, so the baseline questionnaire is answered before the treatment. Marking it
    done confirms or corrects the date; cancelling it stops all follow-up. Administrations, adverse events and
    later surgeries belong to a done episode only."""

    Status = EpisodeStatus

    patient = models.ForeignKey(Patient, verbose_name=_("patient"), on_delete=models.PROTECT, related_name="episodes")
    protocol = models.ForeignKey(
        Protocol, verbose_name=_("protocol"), on_delete=models.PROTECT, null=True, blank=True, related_name="episodes"
    )
    joint = models.CharField(_("joint"), max_length=10, choices=Joint.choices)
    side = models.CharField(_("side"), max_length=10, choices=Side.choices)
    spinal_level = models.CharField(_("spinal level"), max_length=20, blank=True, help_text=_("For spine: e.g. L4-L5."))
    diagnosis = models.CharField(_("diagnosis"), max_length=30, choices=Diagnosis.choices, default=Diagnosis.PRIMARY_OA)
    kl_grade = models.PositiveSmallIntegerField(
        _("Kellgren-Lawrence grade"),
        null=True,
        blank=True,
        validators=[MaxValueValidator(4)],
        help_text=_("Radiographic grade 0-4 at baseline (knee and hip)."),
    )
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=EpisodeStatus.choices,
        default=EpisodeStatus.DONE,
        help_text=_(
            "Planned: registered ahead, the baseline is asked before the treatment. Done: the treatment "
            "happened on the index date. Cancelled: it will not happen; follow-up stops."
        ),
    )
    index_date = models.DateField(
        _("index date"),
        help_text=_(
            "Date of the first administration (for a planned treatment: the planned date); follow-up is timed from it."
        ),
    )
    bmi = models.DecimalField(
        _("BMI at baseline (kg/m²)"),
        max_digits=4,
        decimal_places=1,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("10")), MaxValueValidator(Decimal("80"))],
    )
    prior_nsaids = models.BooleanField(_("prior NSAIDs / analgesics"), default=False)
    prior_physiotherapy = models.BooleanField(_("prior physiotherapy / exercise"), default=False)
    prior_steroid_injection = models.BooleanField(_("prior corticosteroid injection"), default=False)
    prior_ha_injection = models.BooleanField(_("prior hyaluronic acid injection"), default=False)
    prior_prp_injection = models.BooleanField(_("prior PRP injection"), default=False)
    prior_surgery = models.BooleanField(_("prior surgery on this joint"), default=False)
    # The first administration (earliest date, then earliest entry), kept by registry.services whenever an
    # administration or the episode is saved or deleted: research data and summaries group by it, and reading
    # it here spares them a join to the administrations for every row.
    first_product_type = models.CharField(
        _("product of the first administration"), max_length=20, choices=ProductType.choices, null=True, editable=False
    )
    first_source = models.CharField(
        _("source of the first administration"), max_length=12, choices=CellSource.choices, null=True, editable=False
    )
    first_cell_dose_millions = models.DecimalField(
        _("cell dose of the first administration (million cells)"),
        max_digits=8,
        decimal_places=2,
        null=True,
        editable=False,
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    history = HistoricalRecords()
    objects = SiteScopedQuerySet.as_manager()
    SITE_PATH = "patient__site"

    class Meta:
        ordering = ["-index_date", "-id"]
        verbose_name = _("treatment episode")
        verbose_name_plural = _("treatment episodes")
        constraints = [
            models.CheckConstraint(condition=Q(joint__in=Joint.values), name="episode_joint_valid"),
            models.CheckConstraint(condition=Q(side__in=Side.values), name="episode_side_valid"),
            models.CheckConstraint(condition=Q(diagnosis__in=Diagnosis.values), name="episode_diagnosis_valid"),
            models.CheckConstraint(
                condition=Q(kl_grade__isnull=True) | Q(kl_grade__gte=0, kl_grade__lte=4), name="episode_kl_grade_0_4"
            ),
            models.CheckConstraint(
                condition=Q(bmi__isnull=True) | Q(bmi__gte=10, bmi__lte=80), name="episode_bmi_plausible"
            ),
            models.CheckConstraint(condition=Q(joint="spine") | ~Q(side="midline"), name="episode_limb_joint_has_side"),
            models.CheckConstraint(condition=Q(status__in=EpisodeStatus.values), name="episode_status_valid"),
        ]
        indexes = [
            # Episodes of a patient, newest first (patient page inline).
            models.Index(fields=["patient", "-index_date"], name="episode_patient_recent"),
        ]

    def __str__(self) -> str:
        where = self.spinal_level if self.joint == Joint.SPINE and self.spinal_level else self.get_side_display()
        return f"{self.patient_id and self.patient.registry_id} {self.get_joint_display()} ({where}) {self.index_date}"

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.joint in (Joint.KNEE, Joint.HIP, Joint.OTHER) and self.side == Side.MIDLINE:
            errors["side"] = _(
                "A knee or hip episode needs a side (left or right); a bilateral treatment is two episodes."
            )
        if self.joint == Joint.SPINE and self.kl_grade is not None:
            errors["kl_grade"] = _("The Kellgren-Lawrence grade applies to knee and hip, not the spine.")
        patient = _parent(self, "patient")
        if patient and self.protocol_id and self.protocol.site_id != patient.site_id:
            errors["protocol"] = _("This protocol belongs to another site.")
        if self.patient_id and self.index_date:
            identity = PatientIdentity.objects.filter(patient_id=self.patient_id).first()
            if identity and self.index_date < identity.date_of_birth:
                errors["index_date"] = _("The index date is before the patient's date of birth.")
        if self.status_problem():
            errors["status"] = self.status_problem()
        if self.index_date and "index_date" not in errors and "status" not in errors:
            message = self.index_date_problem(patient.site if patient else None)
            if message:
                errors["index_date"] = message
        if errors:
            raise ValidationError(errors)

    @classmethod
    def from_db(cls, db: Any, field_names: Any, values: Any) -> TreatmentEpisode:
        instance = super().from_db(db, field_names, values)
        instance._loaded_state = (instance.__dict__.get("status"), instance.__dict__.get("index_date"))
        return instance

    @property
    def is_done(self) -> bool:
        return self.status == EpisodeStatus.DONE

    def status_problem(self) -> str:
        """Why the status cannot change this way, or "": planned -> done or cancelled, nothing back."""
        loaded = getattr(self, "_loaded_state", (None, None))[0]
        if loaded == EpisodeStatus.DONE and self.status != EpisodeStatus.DONE:
            return _(
                "A treatment that is done cannot be cancelled or planned again. If it was recorded in error, "
                "correct its details, or ask the registry administrator to delete it."
            )
        if loaded == EpisodeStatus.CANCELLED and self.status != EpisodeStatus.CANCELLED:
            return _("A cancelled treatment stays cancelled: if it is rescheduled, register it again as planned.")
        return ""

    def index_date_problem(self, site: Site | None) -> str:
        """Why the index date does not fit the status, or "" (the dates are the site's own)."""
        today = site_date(site)
        loaded_status, loaded_date = getattr(self, "_loaded_state", (None, None))
        unchanged = (loaded_status, loaded_date) == (self.status, self.index_date)
        if self.status == EpisodeStatus.DONE and self.index_date > today:
            if loaded_status == EpisodeStatus.PLANNED:
                return _(
                    "A treatment is recorded as done on the day it happens or later, not ahead (today is %(today)s). "
                    "If the date changed, move the planned date instead."
                ) % {"today": today}
            return _(
                "A treatment that is done cannot be dated after today (%(today)s). If it is still to come, "
                "register it as planned."
            ) % {"today": today}
        if self.status == EpisodeStatus.PLANNED and not unchanged:
            latest = today + timedelta(days=PLAN_AHEAD_DAYS)
            if self.index_date > latest:
                return _(
                    "A treatment can be planned at most a year ahead (until %(latest)s): a baseline asked earlier "
                    "would not describe the joint on the day of treatment."
                ) % {"latest": latest}
            if self.index_date < today:
                return _(
                    "A planned date cannot be in the past (today is %(today)s). If the treatment has happened, "
                    "record it as done."
                ) % {"today": today}
        return ""


# Whole sentences for each kind of record (a translation cannot be assembled from "An administration" and a verb).
_NOT_DONE = {
    "administration": (
        _("An administration cannot belong to a cancelled treatment."),
        _(
            "An administration belongs to a treatment that is done; this one is planned for %(date)s. "
            "Mark the treatment as done first."
        ),
    ),
    "adverse_event": (
        _("An adverse event cannot belong to a cancelled treatment."),
        _(
            "An adverse event belongs to a treatment that is done; this one is planned for %(date)s. "
            "Mark the treatment as done first."
        ),
    ),
    "surgery": (
        _("A subsequent surgery cannot belong to a cancelled treatment."),
        _(
            "A subsequent surgery belongs to a treatment that is done; this one is planned for %(date)s. "
            "Mark the treatment as done first."
        ),
    ),
}


def _not_done_message(episode: TreatmentEpisode, kind: str) -> str:
    cancelled, planned = _NOT_DONE[kind]
    if episode.status == EpisodeStatus.CANCELLED:
        return str(cancelled)
    return planned % {"date": episode.index_date}


class Administration(models.Model):
    """One injection of a biologic preparation, recorded in the spirit of the MIBO reporting guideline."""

    Source = CellSource

    class Tissue(models.TextChoices):
        BONE_MARROW = "bone_marrow", _("Bone marrow")
        ADIPOSE = "adipose", _("Adipose tissue")
        UMBILICAL_CORD = "umbilical_cord", _("Umbilical cord")
        PERIPHERAL_BLOOD = "peripheral_blood", _("Peripheral blood")
        OTHER = "other", _("Other")
        NONE = "none", _("None (not a tissue product)")

    class HarvestSite(models.TextChoices):
        ILIAC_POSTERIOR = "iliac_posterior", _("Posterior iliac crest")
        ILIAC_ANTERIOR = "iliac_anterior", _("Anterior iliac crest")
        ABDOMEN = "abdomen", _("Abdomen")
        FLANK = "flank", _("Flank")
        THIGH = "thigh", _("Thigh")
        VENOUS = "venous", _("Venous blood draw")
        DONOR = "donor", _("Donor tissue (allogeneic)")
        NONE = "none", _("No harvest")

    class Processing(models.TextChoices):
        POINT_OF_CARE = "point_of_care", _("Point-of-care concentration")
        CULTURE_EXPANDED = "culture_expanded", _("Culture expansion")
        ENZYMATIC = "enzymatic", _("Enzymatic digestion")
        MECHANICAL = "mechanical", _("Mechanical (micro-fragmentation)")
        MANUFACTURED = "manufactured", _("Manufactured product")
        NONE = "none", pgettext_lazy("no processing or activation", "None")

    class Leukocytes(models.TextChoices):
        RICH = "rich", _("Leukocyte-rich")
        POOR = "poor", _("Leukocyte-poor")
        UNKNOWN = "unknown", _("Not measured")

    class Activation(models.TextChoices):
        NONE = "none", pgettext_lazy("no processing or activation", "None")
        CALCIUM_CHLORIDE = "calcium_chloride", _("Calcium chloride")
        THROMBIN = "thrombin", _("Thrombin")
        OTHER = "other", _("Other")

    class Route(models.TextChoices):
        INTRA_ARTICULAR = "intra_articular", _("Intra-articular")
        INTRADISCAL = "intradiscal", _("Intradiscal")
        EPIDURAL = "epidural", _("Epidural")
        FACET = "facet", _("Facet joint")
        INTRAOSSEOUS = "intraosseous", _("Intraosseous (subchondral)")
        INTRAVENOUS = "intravenous", _("Intravenous")
        OTHER = "other", _("Other")

    class Guidance(models.TextChoices):
        ULTRASOUND = "ultrasound", _("Ultrasound")
        FLUOROSCOPY = "fluoroscopy", _("Fluoroscopy")
        NONE = "none", _("None (landmark)")

    episode = models.ForeignKey(
        TreatmentEpisode, verbose_name=_("episode"), on_delete=models.PROTECT, related_name="administrations"
    )
    administered_on = models.DateField(_("administered on"), validators=[_not_in_future])
    product_type = models.CharField(_("product type"), max_length=20, choices=ProductType.choices)
    source = models.CharField(_("source"), max_length=12, choices=CellSource.choices)
    tissue = models.CharField(_("tissue"), max_length=20, choices=Tissue.choices, default=Tissue.NONE)
    product_name = models.CharField(
        _("product name"), max_length=100, blank=True, help_text=_("Approved product name, if any.")
    )
    harvest_site = models.CharField(
        _("harvest site"), max_length=20, choices=HarvestSite.choices, default=HarvestSite.NONE
    )
    harvest_volume_ml = models.DecimalField(
        _("harvest volume (mL)"),
        max_digits=6,
        decimal_places=1,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0"))],
    )
    processing = models.CharField(_("processing"), max_length=20, choices=Processing.choices, default=Processing.NONE)
    device_kit = models.CharField(_("device or kit"), max_length=100, blank=True)
    centrifuge_spins = models.PositiveSmallIntegerField(
        _("centrifuge spins"), null=True, blank=True, validators=[MaxValueValidator(5)]
    )
    cell_dose_millions = models.DecimalField(
        _("cell dose (million cells)"),
        max_digits=8,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0"))],
    )
    viability_pct = models.DecimalField(
        _("viability (%)"),
        max_digits=4,
        decimal_places=1,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
    )
    volume_ml = models.DecimalField(
        _("volume injected (mL)"),
        max_digits=5,
        decimal_places=1,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0"))],
    )
    platelet_concentration = models.PositiveIntegerField(
        _("platelets (×10³/µL)"), null=True, blank=True, help_text=_("PRP only.")
    )
    leukocytes = models.CharField(
        _("leukocytes"), max_length=10, choices=Leukocytes.choices, blank=True, help_text=_("PRP only.")
    )
    activation = models.CharField(
        _("activation"), max_length=20, choices=Activation.choices, blank=True, help_text=_("PRP only.")
    )
    route = models.CharField(_("route"), max_length=20, choices=Route.choices, default=Route.INTRA_ARTICULAR)
    image_guidance = models.CharField(
        _("image guidance"), max_length=12, choices=Guidance.choices, default=Guidance.ULTRASOUND
    )
    adjunct_prp = models.BooleanField(_("with PRP"), default=False)
    adjunct_ha = models.BooleanField(_("with hyaluronic acid"), default=False)
    adjunct_rehabilitation = models.BooleanField(_("with a rehabilitation programme"), default=False)
    operator = models.CharField(_("operator"), max_length=100, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    history = HistoricalRecords()
    objects = SiteScopedQuerySet.as_manager()
    SITE_PATH = "episode__patient__site"

    class Meta:
        ordering = ["administered_on", "id"]
        verbose_name = _("administration")
        verbose_name_plural = _("administrations")
        constraints = [
            models.CheckConstraint(condition=Q(product_type__in=ProductType.values), name="admin_product_type_valid"),
            models.CheckConstraint(condition=Q(source__in=CellSource.values), name="admin_source_valid"),
            models.CheckConstraint(
                condition=Q(cell_dose_millions__isnull=True) | Q(cell_dose_millions__gte=0),
                name="admin_cell_dose_non_negative",
            ),
            models.CheckConstraint(
                condition=Q(viability_pct__isnull=True) | Q(viability_pct__gte=0, viability_pct__lte=100),
                name="admin_viability_0_100",
            ),
            models.CheckConstraint(
                condition=Q(volume_ml__isnull=True) | Q(volume_ml__gte=0), name="admin_volume_non_negative"
            ),
            models.CheckConstraint(
                condition=Q(harvest_volume_ml__isnull=True) | Q(harvest_volume_ml__gte=0),
                name="admin_harvest_volume_non_negative",
            ),
        ]
        indexes = [
            # Research filters by product type; the episode's administrations in date order.
            models.Index(fields=["episode", "administered_on"], name="admin_episode_date"),
            models.Index(fields=["product_type"], name="admin_product_type"),
        ]

    def __str__(self) -> str:
        return _("%(product)s on %(date)s") % {"product": self.get_product_type_display(), "date": self.administered_on}

    def clean(self) -> None:
        errors: dict[str, str] = {}
        episode = _parent(self, "episode")
        if episode and not episode.is_done:
            raise ValidationError(_not_done_message(episode, "administration"))
        if episode and episode.index_date and self.administered_on and self.administered_on < episode.index_date:
            errors["administered_on"] = _("An administration cannot be before its episode's index date (%(date)s).") % {
                "date": episode.index_date
            }
        if self.product_type == ProductType.ALLOGENEIC_MSC and self.source != self.Source.ALLOGENEIC:
            errors["source"] = _("Allogeneic MSCs are, by definition, allogeneic.")
        if (
            self.product_type in (ProductType.BMAC, ProductType.SVF, ProductType.CULTURED_MSC, ProductType.PRP)
            and self.source != self.Source.AUTOLOGOUS
        ):
            errors["source"] = _("%(product)s is autologous.") % {"product": self.get_product_type_display()}
        if self.product_type != ProductType.PRP and (self.platelet_concentration or self.leukocytes or self.activation):
            errors["platelet_concentration"] = _("Platelet count, leukocytes and activation are recorded for PRP only.")
        if errors:
            raise ValidationError(errors)


class AdverseEventType(models.TextChoices):
    INJECTION_SITE_PAIN = "injection_site_pain", _("Injection-site pain")
    EFFUSION = "effusion", _("Effusion / swelling")
    INFECTION = "infection", _("Infection")
    IMMUNE = "immune", _("Allergic or immune reaction")
    ECTOPIC = "ectopic", _("Ectopic tissue or calcification")
    HARVEST_SITE = "harvest_site", _("Harvest-site complication")
    OTHER = "other", _("Other")


class Relatedness(models.TextChoices):
    UNRELATED = "unrelated", _("Not related")
    UNLIKELY = "unlikely", _("Unlikely")
    POSSIBLE = "possible", _("Possible")
    PROBABLE = "probable", _("Probable")
    DEFINITE = "definite", _("Definite")


class AdverseEventOutcome(models.TextChoices):
    RECOVERED = "recovered", _("Recovered / resolved")
    RECOVERING = "recovering", _("Recovering")
    NOT_RECOVERED = "not_recovered", _("Not recovered")
    SEQUELAE = "sequelae", _("Recovered with sequelae")
    FATAL = "fatal", _("Fatal")
    UNKNOWN = "unknown", _("Unknown")


class AdverseEvent(models.Model):
    Type = AdverseEventType
    Relatedness = Relatedness
    Outcome = AdverseEventOutcome

    episode = models.ForeignKey(
        TreatmentEpisode, verbose_name=_("episode"), on_delete=models.PROTECT, related_name="adverse_events"
    )
    onset_date = models.DateField(_("onset date"), validators=[_not_in_future])
    event_type = models.CharField(_("event type"), max_length=30, choices=AdverseEventType.choices)
    description = models.CharField(_("description"), max_length=300, blank=True)
    grade = models.PositiveSmallIntegerField(
        _("CTCAE grade"),
        validators=[MinValueValidator(1), MaxValueValidator(5)],
        help_text=_("1 mild, 2 moderate, 3 severe, 4 life-threatening, 5 death."),
    )
    serious = models.BooleanField(_("serious"), default=False)
    relatedness = models.CharField(_("relatedness"), max_length=12, choices=Relatedness.choices)
    outcome = models.CharField(
        _("outcome"), max_length=16, choices=AdverseEventOutcome.choices, default=AdverseEventOutcome.UNKNOWN
    )
    resolution_date = models.DateField(_("resolution date"), null=True, blank=True, validators=[_not_in_future])
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    history = HistoricalRecords()
    objects = SiteScopedQuerySet.as_manager()
    SITE_PATH = "episode__patient__site"

    class Meta:
        ordering = ["-onset_date", "-id"]
        verbose_name = _("adverse event")
        verbose_name_plural = _("adverse events")
        constraints = [
            models.CheckConstraint(condition=Q(grade__gte=1, grade__lte=5), name="ae_grade_1_5"),
            models.CheckConstraint(condition=Q(event_type__in=AdverseEventType.values), name="ae_type_valid"),
            models.CheckConstraint(condition=Q(relatedness__in=Relatedness.values), name="ae_relatedness_valid"),
            models.CheckConstraint(condition=Q(outcome__in=AdverseEventOutcome.values), name="ae_outcome_valid"),
            # Grade 4 and 5 events are serious by definition (life-threatening, death).
            models.CheckConstraint(condition=Q(grade__lte=3) | Q(serious=True), name="ae_grade_4_5_serious"),
            models.CheckConstraint(
                condition=Q(resolution_date__isnull=True) | Q(resolution_date__gte=models.F("onset_date")),
                name="ae_resolution_after_onset",
            ),
        ]
        indexes = [
            # Adverse events of an episode; site dashboards by type.
            models.Index(fields=["episode", "onset_date"], name="ae_episode_onset"),
        ]

    def __str__(self) -> str:
        return _("%(event)s (grade %(grade)s)") % {"event": self.get_event_type_display(), "grade": self.grade}

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.grade is not None and self.grade >= 4 and not self.serious:
            errors["serious"] = _("A grade 4 or 5 event is serious.")
        if self.grade == 5 and self.outcome != self.Outcome.FATAL:
            errors["outcome"] = _("A grade 5 event is fatal.")
        if self.resolution_date and self.onset_date and self.resolution_date < self.onset_date:
            errors["resolution_date"] = _("Resolution cannot be before onset.")
        episode = _parent(self, "episode")
        if episode and not episode.is_done:
            raise ValidationError(_not_done_message(episode, "adverse_event"))
        if episode and episode.index_date and self.onset_date and self.onset_date < episode.index_date:
            errors["onset_date"] = _("An adverse event of this treatment cannot start before its index date.")
        if errors:
            raise ValidationError(errors)


class SurgeryType(models.TextChoices):
    TOTAL_ARTHROPLASTY = "total_arthroplasty", _("Total arthroplasty")
    PARTIAL_ARTHROPLASTY = "partial_arthroplasty", _("Partial / unicompartmental arthroplasty")
    ARTHROSCOPY = "arthroscopy", _("Arthroscopy")
    OSTEOTOMY = "osteotomy", _("Osteotomy")
    SPINAL_FUSION = "spinal_fusion", _("Spinal fusion")
    DISCECTOMY = "discectomy", _("Discectomy / decompression")
    OTHER = "other", _("Other")


class SubsequentSurgery(models.Model):
    Type = SurgeryType

    ARTHROPLASTY = (SurgeryType.TOTAL_ARTHROPLASTY, SurgeryType.PARTIAL_ARTHROPLASTY)

    episode = models.ForeignKey(
        TreatmentEpisode, verbose_name=_("episode"), on_delete=models.PROTECT, related_name="surgeries"
    )
    surgery_date = models.DateField(_("surgery date"), validators=[_not_in_future])
    surgery_type = models.CharField(_("surgery type"), max_length=24, choices=SurgeryType.choices)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    history = HistoricalRecords()
    objects = SiteScopedQuerySet.as_manager()
    SITE_PATH = "episode__patient__site"

    class Meta:
        ordering = ["surgery_date", "id"]
        verbose_name = _("subsequent surgery")
        verbose_name_plural = _("subsequent surgeries")
        constraints = [
            models.CheckConstraint(condition=Q(surgery_type__in=SurgeryType.values), name="surgery_type_valid"),
        ]
        indexes = [
            # Time to arthroplasty: the first arthroplasty of each episode.
            models.Index(fields=["episode", "surgery_type", "surgery_date"], name="surgery_episode_type_date"),
        ]

    def __str__(self) -> str:
        return _("%(surgery)s on %(date)s") % {"surgery": self.get_surgery_type_display(), "date": self.surgery_date}

    @property
    def is_arthroplasty(self) -> bool:
        return self.surgery_type in self.ARTHROPLASTY

    def clean(self) -> None:
        episode = _parent(self, "episode")
        if episode and not episode.is_done:
            raise ValidationError(_not_done_message(episode, "surgery"))
        if episode and episode.index_date and self.surgery_date and self.surgery_date < episode.index_date:
            raise ValidationError(
                {"surgery_date": _("A subsequent surgery cannot be before the episode's index date.")}
            )
