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
from simple_history.models import HistoricalRecords

from registry import clock, phones
from registry.access import SiteScopedQuerySet


def _known_country(value: str) -> None:
    if value and value.upper() not in phones.COUNTRIES:
        raise ValidationError(f"Unknown country code “{value}”: give the two-letter ISO code, e.g. KR, JP, CN.")


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
        raise ValidationError("This date is in the future.")


# Sites and staff ------------------------------------------------------------------------------------------


class Site(models.Model):
    code = models.SlugField(max_length=20, unique=True, help_text="Short code shown to researchers, e.g. HRJ.")
    name = models.CharField(max_length=200)
    time_zone = models.CharField(max_length=64, default="UTC")
    language = models.CharField(max_length=10, default="en", choices=settings.LANGUAGES)
    contact_email = models.EmailField(help_text="Shown to patients in emails and on questionnaire pages.")
    contact_phone = models.CharField(max_length=40, blank=True)
    country = models.CharField(
        max_length=2,
        blank=True,
        validators=[_known_country],
        help_text="ISO country code (KR, JP, CN ...): patients' mobile numbers without + are read as this country's.",
    )
    active = models.BooleanField(default=True)
    withdrawal_policy = models.CharField(
        max_length=12,
        choices=[
            ("keep", "Keep the record; stop all contact"),
            ("anonymise", "Anonymise: remove identity, keep de-identified clinical data"),
        ],
        default="keep",
        help_text="What happens to a withdrawn patient's record, as the site's consent form says.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords()
    objects = SiteScopedQuerySet.as_manager()
    SITE_PATH = ""  # a Site is its own scope

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} — {self.name}"

    def clean(self) -> None:
        import zoneinfo

        self.country = (self.country or "").upper()
        try:
            zoneinfo.ZoneInfo(self.time_zone)
        except Exception:
            raise ValidationError({"time_zone": f"Unknown time zone {self.time_zone!r}."}) from None


class Membership(models.Model):
    class Role(models.TextChoices):
        COORDINATOR = "coordinator", "Coordinator"
        CLINICIAN = "clinician", "Clinician"
        VIEWER = "viewer", "Viewer (read only)"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.COORDINATOR)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords()
    objects = SiteScopedQuerySet.as_manager()
    SITE_PATH = "site"

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "site"], name="membership_one_per_user_site"),
            models.CheckConstraint(
                condition=Q(role__in=["coordinator", "clinician", "viewer"]), name="membership_role_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} at {self.site.code} ({self.get_role_display()})"


# Patients -------------------------------------------------------------------------------------------------

# Crockford's base32 without I, L, O, U: unambiguous when read over the phone.
_REGISTRY_ID_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_registry_id() -> str:
    """A random, registry-wide pseudonymous patient ID (50 bits), never derived from any identifier."""
    return "R-" + "".join(secrets.choice(_REGISTRY_ID_ALPHABET) for _ in range(10))


class Sex(models.TextChoices):
    FEMALE = "female", "Female"
    MALE = "male", "Male"
    OTHER = "other", "Other"
    UNKNOWN = "unknown", "Unknown"


class ContactChannel(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "Text message"
    BOTH = "both", "Email and text message"

    @classmethod
    def texts(cls) -> list[str]:
        return [cls.SMS.value, cls.BOTH.value]

    @classmethod
    def emails(cls) -> list[str]:
        return [cls.EMAIL.value, cls.BOTH.value]


class Patient(models.Model):
    """The clinical side of a patient. Identifying data is in `identity` (PatientIdentity)."""

    registry_id = models.CharField(max_length=16, unique=True, default=new_registry_id, editable=False)
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="patients")
    sex = models.CharField(max_length=10, choices=Sex.choices)
    consent_version = models.CharField(max_length=40, help_text="Version of the consent form signed.")
    consent_date = models.DateField(validators=[_not_in_future])
    consent_follow_up = models.BooleanField("consents to registry follow-up", default=True)
    consent_research = models.BooleanField("consents to research use", default=True)
    consent_email = models.BooleanField("consents to contact by email", default=True)
    contact_channel = models.CharField(
        "how the patient wants to be contacted",
        max_length=6,
        choices=ContactChannel.choices,
        default=ContactChannel.EMAIL,
        help_text="Invitations and reminders go this way; text messages need a mobile number.",
    )
    withdrawn_on = models.DateField(
        null=True,
        blank=True,
        validators=[_not_in_future],
        help_text="Date consent was withdrawn: all follow-up and contact stop.",
    )
    withdrawal_reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords()
    objects = SiteScopedQuerySet.as_manager()
    SITE_PATH = "site"

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=Q(sex__in=Sex.values), name="patient_sex_valid"),
            models.CheckConstraint(
                condition=Q(contact_channel__in=ContactChannel.values), name="patient_contact_channel_valid"
            ),
            models.CheckConstraint(
                condition=Q(withdrawn_on__isnull=True) | Q(withdrawn_on__gte=models.F("consent_date")),
                name="patient_withdrawal_after_consent",
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

    def clean(self) -> None:
        if self.withdrawn_on and self.consent_date and self.withdrawn_on < self.consent_date:
            raise ValidationError({"withdrawn_on": "Withdrawal cannot be before the consent date."})
        if self.withdrawn_on and not self.withdrawal_reason:
            raise ValidationError({"withdrawal_reason": "Record why consent was withdrawn."})


class PatientIdentity(models.Model):
    """Identifying data, kept apart from clinical data. Never leaves the site's admin."""

    patient = models.OneToOneField(Patient, on_delete=models.CASCADE, related_name="identity", primary_key=True)
    given_name = models.CharField(max_length=100)
    family_name = models.CharField(max_length=100)
    date_of_birth = models.DateField(validators=[_not_in_future])
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=40, blank=True, help_text="For calls, as staff dial it.")
    mobile = models.CharField(
        "mobile number for text messages",
        max_length=16,
        blank=True,
        help_text="As the patient gives it; stored in international form (+82…). Without +, read as a number of the "
        "patient's country.",
    )
    country = models.CharField(
        max_length=2,
        blank=True,
        validators=[_known_country],
        help_text="ISO country code of the patient's own country, if not the site's (a patient from abroad).",
    )
    preferred_language = models.CharField(max_length=10, choices=settings.LANGUAGES, default="en")
    medical_record_number = models.CharField("site medical record number", max_length=40, blank=True)

    history = HistoricalRecords()
    objects = SiteScopedQuerySet.as_manager()
    SITE_PATH = "patient__site"

    class Meta:
        verbose_name = "patient identity"
        verbose_name_plural = "patient identities"
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
                {"mobile": "The patient is to be contacted by text message: give a mobile number, or choose email."}
            )


# Treatments -----------------------------------------------------------------------------------------------


class Regulator(models.TextChoices):
    JP_ASRM = "jp_asrm", "Japan: Act on the Safety of Regenerative Medicine"
    KR_NHT = "kr_nht", "Korea: new health technology"
    KR_ARMAB = "kr_armab", "Korea: Advanced Regenerative Bio Act"
    US_IND = "us_ind", "USA: FDA IND / IDE"
    EU_HE = "eu_he", "EU: hospital exemption"
    ETHICS = "ethics", "Ethics committee only"
    OTHER = "other", "Other"


class Protocol(models.Model):
    """A site's registered treatment plan (e.g. under Japan's Act on the Safety of Regenerative Medicine)."""

    Regulator = Regulator

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="protocols")
    code = models.CharField(max_length=40)
    name = models.CharField(max_length=200)
    version = models.CharField(max_length=20, default="1")
    regulator = models.CharField(max_length=20, choices=Regulator.choices)
    regulator_reference = models.CharField(
        max_length=100, blank=True, help_text="Registration or approval number given by the regulator."
    )
    approved_on = models.DateField(null=True, blank=True, validators=[_not_in_future])
    active = models.BooleanField(default=True)
    description = models.TextField(blank=True)

    history = HistoricalRecords()
    objects = SiteScopedQuerySet.as_manager()
    SITE_PATH = "site"

    class Meta:
        ordering = ["site__code", "code"]
        constraints = [
            models.UniqueConstraint(fields=["site", "code", "version"], name="protocol_unique_code_version"),
            models.CheckConstraint(condition=Q(regulator__in=Regulator.values), name="protocol_regulator_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.code} v{self.version} — {self.name}"


class Joint(models.TextChoices):
    KNEE = "knee", "Knee"
    HIP = "hip", "Hip"
    SPINE = "spine", "Spine"
    OTHER = "other", "Other"


class Side(models.TextChoices):
    LEFT = "left", "Left"
    RIGHT = "right", "Right"
    MIDLINE = "midline", "Midline / not applicable"


class Diagnosis(models.TextChoices):
    PRIMARY_OA = "primary_oa", "Primary osteoarthritis"
    POST_TRAUMATIC_OA = "post_traumatic_oa", "Post-traumatic osteoarthritis"
    CARTILAGE_DEFECT = "cartilage_defect", "Focal cartilage defect"
    AVN = "avn", "Avascular necrosis"
    DEGENERATIVE_DISC = "degenerative_disc", "Degenerative disc disease"
    FACET_ARTHROPATHY = "facet_arthropathy", "Facet arthropathy"
    OTHER = "other", "Other"


class ProductType(models.TextChoices):
    BMAC = "bmac", "Bone-marrow aspirate concentrate (BMAC)"
    SVF = "svf", "Stromal vascular fraction (SVF)"
    CULTURED_MSC = "cultured_msc", "Culture-expanded autologous MSCs"
    ALLOGENEIC_MSC = "allogeneic_msc", "Allogeneic MSCs (e.g. umbilical cord)"
    PRP = "prp", "Platelet-rich plasma (PRP)"
    HA = "ha", "Hyaluronic acid"
    STEROID = "steroid", "Corticosteroid"
    OTHER = "other", "Other"


CELL_PRODUCTS = {ProductType.BMAC, ProductType.SVF, ProductType.CULTURED_MSC, ProductType.ALLOGENEIC_MSC}


class CellSource(models.TextChoices):
    AUTOLOGOUS = "autologous", "Autologous"
    ALLOGENEIC = "allogeneic", "Allogeneic"
    NOT_APPLICABLE = "na", "Not applicable (acellular)"


class EpisodeStatus(models.TextChoices):
    PLANNED = "planned", "Planned"
    DONE = "done", "Done"
    CANCELLED = "cancelled", "Cancelled"


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

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="episodes")
    protocol = models.ForeignKey(Protocol, on_delete=models.PROTECT, null=True, blank=True, related_name="episodes")
    joint = models.CharField(max_length=10, choices=Joint.choices)
    side = models.CharField(max_length=10, choices=Side.choices)
    spinal_level = models.CharField(max_length=20, blank=True, help_text="For spine: e.g. L4-L5.")
    diagnosis = models.CharField(max_length=30, choices=Diagnosis.choices, default=Diagnosis.PRIMARY_OA)
    kl_grade = models.PositiveSmallIntegerField(
        "Kellgren-Lawrence grade",
        null=True,
        blank=True,
        validators=[MaxValueValidator(4)],
        help_text="Radiographic grade 0-4 at baseline (knee and hip).",
    )
    status = models.CharField(
        max_length=10,
        choices=EpisodeStatus.choices,
        default=EpisodeStatus.DONE,
        help_text="Planned: registered ahead, the baseline is asked before the treatment. Done: the treatment "
        "happened on the index date. Cancelled: it will not happen; follow-up stops.",
    )
    index_date = models.DateField(
        help_text="Date of the first administration (for a planned treatment: the planned date); follow-up is "
        "timed from it."
    )
    bmi = models.DecimalField(
        "BMI at baseline (kg/m²)",
        max_digits=4,
        decimal_places=1,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("10")), MaxValueValidator(Decimal("80"))],
    )
    prior_nsaids = models.BooleanField("prior NSAIDs / analgesics", default=False)
    prior_physiotherapy = models.BooleanField("prior physiotherapy / exercise", default=False)
    prior_steroid_injection = models.BooleanField("prior corticosteroid injection", default=False)
    prior_ha_injection = models.BooleanField("prior hyaluronic acid injection", default=False)
    prior_prp_injection = models.BooleanField("prior PRP injection", default=False)
    prior_surgery = models.BooleanField("prior surgery on this joint", default=False)
    # The first administration (earliest date, then earliest entry), kept by registry.services whenever an
    # administration or the episode is saved or deleted: research data and summaries group by it, and reading
    # it here spares them a join to the administrations for every row.
    first_product_type = models.CharField(
        "product of the first administration", max_length=20, choices=ProductType.choices, null=True, editable=False
    )
    first_source = models.CharField(
        "source of the first administration", max_length=12, choices=CellSource.choices, null=True, editable=False
    )
    first_cell_dose_millions = models.DecimalField(
        "cell dose of the first administration (million cells)",
        max_digits=8,
        decimal_places=2,
        null=True,
        editable=False,
    )
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords()
    objects = SiteScopedQuerySet.as_manager()
    SITE_PATH = "patient__site"

    class Meta:
        ordering = ["-index_date", "-id"]
        verbose_name = "treatment episode"
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
            errors["side"] = (
                "A knee or hip episode needs a side (left or right); a bilateral treatment is two episodes."
            )
        if self.joint == Joint.SPINE and self.kl_grade is not None:
            errors["kl_grade"] = "The Kellgren-Lawrence grade applies to knee and hip, not the spine."
        patient = _parent(self, "patient")
        if patient and self.protocol_id and self.protocol.site_id != patient.site_id:
            errors["protocol"] = "This protocol belongs to another site."
        if self.patient_id and self.index_date:
            identity = PatientIdentity.objects.filter(patient_id=self.patient_id).first()
            if identity and self.index_date < identity.date_of_birth:
                errors["index_date"] = "The index date is before the patient's date of birth."
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
            return (
                "A treatment that is done cannot be cancelled or planned again. If it was recorded in error, "
                "correct its details, or ask the registry administrator to delete it."
            )
        if loaded == EpisodeStatus.CANCELLED and self.status != EpisodeStatus.CANCELLED:
            return "A cancelled treatment stays cancelled: if it is rescheduled, register it again as planned."
        return ""

    def index_date_problem(self, site: Site | None) -> str:
        """Why the index date does not fit the status, or "" (the dates are the site's own)."""
        today = site_date(site)
        loaded_status, loaded_date = getattr(self, "_loaded_state", (None, None))
        unchanged = (loaded_status, loaded_date) == (self.status, self.index_date)
        if self.status == EpisodeStatus.DONE and self.index_date > today:
            if loaded_status == EpisodeStatus.PLANNED:
                return (
                    f"A treatment is recorded as done on the day it happens or later, not ahead (today is {today}). "
                    "If the date changed, move the planned date instead."
                )
            return (
                f"A treatment that is done cannot be dated after today ({today}). If it is still to come, "
                "register it as planned."
            )
        if self.status == EpisodeStatus.PLANNED and not unchanged:
            latest = today + timedelta(days=PLAN_AHEAD_DAYS)
            if self.index_date > latest:
                return (
                    f"A treatment can be planned at most a year ahead (until {latest}): a baseline asked earlier "
                    "would not describe the joint on the day of treatment."
                )
            if self.index_date < today:
                return (
                    f"A planned date cannot be in the past (today is {today}). If the treatment has happened, "
                    "record it as done."
                )
        return ""


def _not_done_message(episode: TreatmentEpisode, what: str) -> str:
    if episode.status == EpisodeStatus.CANCELLED:
        return f"{what} cannot belong to a cancelled treatment."
    return (
        f"{what} belongs to a treatment that is done; this one is planned for {episode.index_date}. "
        "Mark the treatment as done first."
    )


class Administration(models.Model):
    """One injection of a biologic preparation, recorded in the spirit of the MIBO reporting guideline."""

    Source = CellSource

    class Tissue(models.TextChoices):
        BONE_MARROW = "bone_marrow", "Bone marrow"
        ADIPOSE = "adipose", "Adipose tissue"
        UMBILICAL_CORD = "umbilical_cord", "Umbilical cord"
        PERIPHERAL_BLOOD = "peripheral_blood", "Peripheral blood"
        OTHER = "other", "Other"
        NONE = "none", "None (not a tissue product)"

    class HarvestSite(models.TextChoices):
        ILIAC_POSTERIOR = "iliac_posterior", "Posterior iliac crest"
        ILIAC_ANTERIOR = "iliac_anterior", "Anterior iliac crest"
        ABDOMEN = "abdomen", "Abdomen"
        FLANK = "flank", "Flank"
        THIGH = "thigh", "Thigh"
        VENOUS = "venous", "Venous blood draw"
        DONOR = "donor", "Donor tissue (allogeneic)"
        NONE = "none", "No harvest"

    class Processing(models.TextChoices):
        POINT_OF_CARE = "point_of_care", "Point-of-care concentration"
        CULTURE_EXPANDED = "culture_expanded", "Culture expansion"
        ENZYMATIC = "enzymatic", "Enzymatic digestion"
        MECHANICAL = "mechanical", "Mechanical (micro-fragmentation)"
        MANUFACTURED = "manufactured", "Manufactured product"
        NONE = "none", "None"

    class Leukocytes(models.TextChoices):
        RICH = "rich", "Leukocyte-rich"
        POOR = "poor", "Leukocyte-poor"
        UNKNOWN = "unknown", "Not measured"

    class Activation(models.TextChoices):
        NONE = "none", "None"
        CALCIUM_CHLORIDE = "calcium_chloride", "Calcium chloride"
        THROMBIN = "thrombin", "Thrombin"
        OTHER = "other", "Other"

    class Route(models.TextChoices):
        INTRA_ARTICULAR = "intra_articular", "Intra-articular"
        INTRADISCAL = "intradiscal", "Intradiscal"
        EPIDURAL = "epidural", "Epidural"
        FACET = "facet", "Facet joint"
        INTRAOSSEOUS = "intraosseous", "Intraosseous (subchondral)"
        INTRAVENOUS = "intravenous", "Intravenous"
        OTHER = "other", "Other"

    class Guidance(models.TextChoices):
        ULTRASOUND = "ultrasound", "Ultrasound"
        FLUOROSCOPY = "fluoroscopy", "Fluoroscopy"
        NONE = "none", "None (landmark)"

    episode = models.ForeignKey(TreatmentEpisode, on_delete=models.PROTECT, related_name="administrations")
    administered_on = models.DateField(validators=[_not_in_future])
    product_type = models.CharField(max_length=20, choices=ProductType.choices)
    source = models.CharField(max_length=12, choices=CellSource.choices)
    tissue = models.CharField(max_length=20, choices=Tissue.choices, default=Tissue.NONE)
    product_name = models.CharField(max_length=100, blank=True, help_text="Approved product name, if any.")
    harvest_site = models.CharField(max_length=20, choices=HarvestSite.choices, default=HarvestSite.NONE)
    harvest_volume_ml = models.DecimalField(
        max_digits=6, decimal_places=1, null=True, blank=True, validators=[MinValueValidator(Decimal("0"))]
    )
    processing = models.CharField(max_length=20, choices=Processing.choices, default=Processing.NONE)
    device_kit = models.CharField("device or kit", max_length=100, blank=True)
    centrifuge_spins = models.PositiveSmallIntegerField(null=True, blank=True, validators=[MaxValueValidator(5)])
    cell_dose_millions = models.DecimalField(
        "cell dose (million cells)",
        max_digits=8,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0"))],
    )
    viability_pct = models.DecimalField(
        "viability (%)",
        max_digits=4,
        decimal_places=1,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
    )
    volume_ml = models.DecimalField(
        "volume injected (mL)",
        max_digits=5,
        decimal_places=1,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0"))],
    )
    platelet_concentration = models.PositiveIntegerField(
        "platelets (×10³/µL)", null=True, blank=True, help_text="PRP only."
    )
    leukocytes = models.CharField(max_length=10, choices=Leukocytes.choices, blank=True, help_text="PRP only.")
    activation = models.CharField(max_length=20, choices=Activation.choices, blank=True, help_text="PRP only.")
    route = models.CharField(max_length=20, choices=Route.choices, default=Route.INTRA_ARTICULAR)
    image_guidance = models.CharField(max_length=12, choices=Guidance.choices, default=Guidance.ULTRASOUND)
    adjunct_prp = models.BooleanField("with PRP", default=False)
    adjunct_ha = models.BooleanField("with hyaluronic acid", default=False)
    adjunct_rehabilitation = models.BooleanField("with a rehabilitation programme", default=False)
    operator = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords()
    objects = SiteScopedQuerySet.as_manager()
    SITE_PATH = "episode__patient__site"

    class Meta:
        ordering = ["administered_on", "id"]
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
        return f"{self.get_product_type_display()} on {self.administered_on}"

    def clean(self) -> None:
        errors: dict[str, str] = {}
        episode = _parent(self, "episode")
        if episode and not episode.is_done:
            raise ValidationError(_not_done_message(episode, "An administration"))
        if episode and episode.index_date and self.administered_on and self.administered_on < episode.index_date:
            errors["administered_on"] = (
                f"An administration cannot be before its episode's index date ({episode.index_date})."
            )
        if self.product_type == ProductType.ALLOGENEIC_MSC and self.source != self.Source.ALLOGENEIC:
            errors["source"] = "Allogeneic MSCs are, by definition, allogeneic."
        if (
            self.product_type in (ProductType.BMAC, ProductType.SVF, ProductType.CULTURED_MSC, ProductType.PRP)
            and self.source != self.Source.AUTOLOGOUS
        ):
            errors["source"] = f"{self.get_product_type_display()} is autologous."
        if self.product_type != ProductType.PRP and (self.platelet_concentration or self.leukocytes or self.activation):
            errors["platelet_concentration"] = "Platelet count, leukocytes and activation are recorded for PRP only."
        if errors:
            raise ValidationError(errors)


class AdverseEventType(models.TextChoices):
    INJECTION_SITE_PAIN = "injection_site_pain", "Injection-site pain"
    EFFUSION = "effusion", "Effusion / swelling"
    INFECTION = "infection", "Infection"
    IMMUNE = "immune", "Allergic or immune reaction"
    ECTOPIC = "ectopic", "Ectopic tissue or calcification"
    HARVEST_SITE = "harvest_site", "Harvest-site complication"
    OTHER = "other", "Other"


class Relatedness(models.TextChoices):
    UNRELATED = "unrelated", "Not related"
    UNLIKELY = "unlikely", "Unlikely"
    POSSIBLE = "possible", "Possible"
    PROBABLE = "probable", "Probable"
    DEFINITE = "definite", "Definite"


class AdverseEventOutcome(models.TextChoices):
    RECOVERED = "recovered", "Recovered / resolved"
    RECOVERING = "recovering", "Recovering"
    NOT_RECOVERED = "not_recovered", "Not recovered"
    SEQUELAE = "sequelae", "Recovered with sequelae"
    FATAL = "fatal", "Fatal"
    UNKNOWN = "unknown", "Unknown"


class AdverseEvent(models.Model):
    Type = AdverseEventType
    Relatedness = Relatedness
    Outcome = AdverseEventOutcome

    episode = models.ForeignKey(TreatmentEpisode, on_delete=models.PROTECT, related_name="adverse_events")
    onset_date = models.DateField(validators=[_not_in_future])
    event_type = models.CharField(max_length=30, choices=AdverseEventType.choices)
    description = models.CharField(max_length=300, blank=True)
    grade = models.PositiveSmallIntegerField(
        "CTCAE grade",
        validators=[MinValueValidator(1), MaxValueValidator(5)],
        help_text="1 mild, 2 moderate, 3 severe, 4 life-threatening, 5 death.",
    )
    serious = models.BooleanField(default=False)
    relatedness = models.CharField(max_length=12, choices=Relatedness.choices)
    outcome = models.CharField(max_length=16, choices=AdverseEventOutcome.choices, default=AdverseEventOutcome.UNKNOWN)
    resolution_date = models.DateField(null=True, blank=True, validators=[_not_in_future])
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords()
    objects = SiteScopedQuerySet.as_manager()
    SITE_PATH = "episode__patient__site"

    class Meta:
        ordering = ["-onset_date", "-id"]
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
        return f"{self.get_event_type_display()} (grade {self.grade})"

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.grade is not None and self.grade >= 4 and not self.serious:
            errors["serious"] = "A grade 4 or 5 event is serious."
        if self.grade == 5 and self.outcome != self.Outcome.FATAL:
            errors["outcome"] = "A grade 5 event is fatal."
        if self.resolution_date and self.onset_date and self.resolution_date < self.onset_date:
            errors["resolution_date"] = "Resolution cannot be before onset."
        episode = _parent(self, "episode")
        if episode and not episode.is_done:
            raise ValidationError(_not_done_message(episode, "An adverse event"))
        if episode and episode.index_date and self.onset_date and self.onset_date < episode.index_date:
            errors["onset_date"] = "An adverse event of this treatment cannot start before its index date."
        if errors:
            raise ValidationError(errors)


class SurgeryType(models.TextChoices):
    TOTAL_ARTHROPLASTY = "total_arthroplasty", "Total arthroplasty"
    PARTIAL_ARTHROPLASTY = "partial_arthroplasty", "Partial / unicompartmental arthroplasty"
    ARTHROSCOPY = "arthroscopy", "Arthroscopy"
    OSTEOTOMY = "osteotomy", "Osteotomy"
    SPINAL_FUSION = "spinal_fusion", "Spinal fusion"
    DISCECTOMY = "discectomy", "Discectomy / decompression"
    OTHER = "other", "Other"


class SubsequentSurgery(models.Model):
    Type = SurgeryType

    ARTHROPLASTY = (SurgeryType.TOTAL_ARTHROPLASTY, SurgeryType.PARTIAL_ARTHROPLASTY)

    episode = models.ForeignKey(TreatmentEpisode, on_delete=models.PROTECT, related_name="surgeries")
    surgery_date = models.DateField(validators=[_not_in_future])
    surgery_type = models.CharField(max_length=24, choices=SurgeryType.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords()
    objects = SiteScopedQuerySet.as_manager()
    SITE_PATH = "episode__patient__site"

    class Meta:
        ordering = ["surgery_date", "id"]
        verbose_name_plural = "subsequent surgeries"
        constraints = [
            models.CheckConstraint(condition=Q(surgery_type__in=SurgeryType.values), name="surgery_type_valid"),
        ]
        indexes = [
            # Time to arthroplasty: the first arthroplasty of each episode.
            models.Index(fields=["episode", "surgery_type", "surgery_date"], name="surgery_episode_type_date"),
        ]

    def __str__(self) -> str:
        return f"{self.get_surgery_type_display()} on {self.surgery_date}"

    @property
    def is_arthroplasty(self) -> bool:
        return self.surgery_type in self.ARTHROPLASTY

    def clean(self) -> None:
        episode = _parent(self, "episode")
        if episode and not episode.is_done:
            raise ValidationError(_not_done_message(episode, "A subsequent surgery"))
        if episode and episode.index_date and self.surgery_date and self.surgery_date < episode.index_date:
            raise ValidationError({"surgery_date": "A subsequent surgery cannot be before the episode's index date."})
