"""What a research row may say: the released columns of every dataset, and the SQL that makes them.

HIPAA Safe Harbor in spirit (DOMAIN.md, "What researchers may see"):

- `subject_id` and `episode_id` are random pseudonyms from the mapping tables (research.models), never a
  primary key, the registry ID or anything derived from an identifier;
- every date is given as whole days from the episode's index date (the first administration); the only calendar
  element is the index year, which Safe Harbor allows;
- age (completed years at the index date, 90 and over pooled) and BMI are released as bands of the site's release
  policy, and sex, age and BMI are blanked where a combination of them with the site would hold fewer than k
  subjects (research.kanon: which columns are quasi-identifiers, and why);
- never names, emails, phone numbers, birth dates, record numbers, calendar dates or free text: the free-text
  fields (administration product name, device/kit, operator; spinal level; adverse-event description) are not
  released at all.

Each dataset is a list of `Column`s over a base model. The same list gives the JSON fields, the CSV columns (in
this order), the filters' targets and the data dictionary, so they cannot drift apart. The values are computed
in SQL (age and days included), which is what lets PostgreSQL stream a whole cohort with COPY.

An episode's product type, source and cell dose are those of its first administration (earliest date, then
earliest entry). They are joined once per row with an anti-join ("no earlier administration exists"), which
PostgreSQL runs as a hash anti-join instead of a correlated lookup per row.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from django.db import models
from django.db.models import Case, Count, F, Max, OuterRef, Subquery, Sum, Value, When
from django.db.models.functions import Coalesce, ExtractYear, Least, NullIf

import scoring
from outcomes.models import MissingCode, Mode, Score, Timepoint, stored_outputs
from outcomes.schedule import WINDOWS
from registry.models import (
    Administration,
    AdverseEvent,
    AdverseEventOutcome,
    AdverseEventType,
    CellSource,
    Diagnosis,
    Joint,
    ProductType,
    Relatedness,
    Sex,
    Side,
    SubsequentSurgery,
    SurgeryType,
    TreatmentEpisode,
)

Kind = Literal["string", "integer", "number", "boolean"]

AGE_POOLED_FROM = 90
ALIAS_PREFIX = "c_"
TIMEPOINT_ORDER = [w.timepoint for w in WINDOWS]


# SQL helpers ----------------------------------------------------------------------------------------------


class DaysBetween(models.Func):
    """Whole days from the second date to the first (negative if the first is earlier)."""

    output_field = models.IntegerField()
    arity = 2
    template = "(%(expressions)s)"
    arg_joiner = " - "  # PostgreSQL: date - date is an integer number of days

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        # julianday() of a plain date is exact (x.5), so the difference is a whole number.
        return self.as_sql(
            compiler,
            connection,
            template="CAST(julianday(%(expressions)s) AS INTEGER)",
            arg_joiner=") - julianday(",
            **extra,
        )


class CompletedYears(models.Func):
    """Completed years from the second date (birth) to the first (the index date): age on that day."""

    output_field = models.IntegerField()
    arity = 2

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(compiler, connection, template="CAST(EXTRACT(YEAR FROM AGE(%(expressions)s)) AS INTEGER)")

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        at_sql, at_params = compiler.compile(self.source_expressions[0])
        born_sql, born_params = compiler.compile(self.source_expressions[1])
        sql = (
            f"(CAST(strftime('%%Y', {at_sql}) AS INTEGER) - CAST(strftime('%%Y', {born_sql}) AS INTEGER)"
            f" - (strftime('%%m-%%d', {at_sql}) < strftime('%%m-%%d', {born_sql})))"
        )
        return sql, (*at_params, *born_params, *at_params, *born_params)

    def as_sql(self, compiler: Any, connection: Any, **extra: Any) -> Any:  # other backends: fail loudly
        if "template" not in extra:
            raise NotImplementedError(f"CompletedYears is not implemented for {connection.vendor}.")
        return super().as_sql(compiler, connection, **extra)


def age_at_index(episode_prefix: str) -> models.Expression:
    """Age in completed years at the index date, 90 and over pooled as 90. The date of birth is read inside the
    database and never leaves it."""
    return Least(
        CompletedYears(F(f"{episode_prefix}index_date"), F(f"{episode_prefix}patient__identity__date_of_birth")),
        Value(AGE_POOLED_FROM),
    )


def days_from_index(date_path: str, episode_prefix: str) -> models.Expression:
    return DaysBetween(F(date_path), F(f"{episode_prefix}index_date"))


# Columns and datasets -------------------------------------------------------------------------------------


# Short variable labels: the dictionary's `label`, the variable label of the .sav and .dta files. Stata allows 80
# characters, so each is at most that; the description says the rest. By column name: a column whose meaning differs
# in one dataset (an administration's own product, say) passes its own.
LABEL_MAX = 80
LABELS = {
    "subject_id": "Subject (pseudonym)",
    "episode_id": "Treatment episode (pseudonym)",
    "site": "Treating site (code)",
    "joint": "Treated joint",
    "side": "Side",
    "kl_grade": "Kellgren-Lawrence grade at baseline (0-4)",
    "sex": "Sex",
    "age_band": "Age band at index date, years (e.g. 50-59, 90+)",
    "age_low": "Age band at index date: lowest age (years)",
    "age_high": "Age band at index date: first age above the band (years)",
    "bmi_band": "BMI band at baseline, kg/m2 (e.g. 25-29.9, 40+)",
    "bmi_low": "BMI band at baseline: lowest BMI (kg/m2)",
    "bmi_high": "BMI band at baseline: first BMI above the band (kg/m2)",
    "qi_suppressed": "Values blanked for k-anonymity (sex;age;bmi)",
    "index_year": "Year of the index date",
    "product_type": "Product of the first administration",
    "source": "Cell source of the first administration",
    "cell_dose_millions": "Cell dose of the first administration (million cells)",
    "diagnosis": "Diagnosis",
    "prior_nsaids": "Prior NSAIDs or analgesics",
    "prior_physiotherapy": "Prior physiotherapy or exercise",
    "prior_steroid_injection": "Prior corticosteroid injection",
    "prior_ha_injection": "Prior hyaluronic acid injection",
    "prior_prp_injection": "Prior PRP injection",
    "prior_surgery": "Prior surgery on this joint",
    "n_administrations": "Number of administrations",
    "total_cell_dose_millions": "Total cell dose of all administrations (million cells)",
    "day": "Day of the administration (from the index date)",
    "tissue": "Source tissue",
    "harvest_site": "Harvest site",
    "harvest_volume_ml": "Volume harvested (mL)",
    "processing": "Processing",
    "centrifuge_spins": "Centrifuge spins",
    "viability_pct": "Cell viability (%)",
    "volume_ml": "Volume injected (mL)",
    "platelet_concentration": "PRP platelet count (10^3/uL)",
    "leukocytes": "PRP leukocytes",
    "activation": "PRP activation",
    "route": "Route",
    "image_guidance": "Image guidance",
    "adjunct_prp": "Given with PRP",
    "adjunct_ha": "Given with hyaluronic acid",
    "adjunct_rehabilitation": "Given with a rehabilitation programme",
    "timepoint": "Follow-up timepoint",
    "days_from_index": "Day the answers were given (from the index date)",
    "instrument": "Instrument",
    "key": "Score key of the instrument",
    "value": "Score",
    "value_text": "Score, when a category",
    "mode": "Mode of answering",
    "items_missing": "Items without an answer, and why (item:code;...)",
    "scoring_version": "Version of the scoring rules",
    "stale": "Waiting to be recomputed under the current rules",
    "onset_day": "Day of onset (from the index date)",
    "event_type": "Type of adverse event",
    "grade": "CTCAE grade (1-5)",
    "serious": "Serious adverse event",
    "relatedness": "Relatedness to the treatment",
    "outcome": "Outcome of the adverse event",
    "resolution_day": "Day of resolution (from the index date)",
    "surgery_day": "Day of the surgery (from the index date)",
    "surgery_type": "Type of surgery",
    "arthroplasty": "Arthroplasty (time-to-arthroplasty event)",
}

# A boolean in a .sav or .dta file is a number with these value labels (SPSS and Stata have no boolean type).
BOOLEAN_CODES = ((0, False, "No"), (1, True, "Yes"))


_BLANKED = (
    "Empty when blanked for k-anonymity: then qi_suppressed names {qi}."
)


@dataclass(frozen=True)
class Released:
    """The source of a quasi-identifier column (research.kanon): banded by the site's release policy and blanked
    where k-anonymity requires, so it needs the release of the key. `ep` is the lookup prefix to the episode."""

    name: str
    ep: str

    def expression(self, release: Any) -> Any:
        if release is None:
            output = models.IntegerField() if self.name.endswith(("_low", "_high")) else models.CharField()
            return Value(None, output_field=output)
        return release.column(self.name, self.ep)


@dataclass(frozen=True)
class Column:
    """One released column. `source` is an ORM path or expression on the dataset's base model (None: the model
    field called `name`). `choices` are the codes a coded column takes, as plain codes or as (code, label)
    pairs (a TextChoices' `.choices`); `label` is the short variable label (LABELS by default)."""

    name: str
    kind: Kind
    description: str
    source: Any = None
    choices: tuple[Any, ...] = ()
    unit: str | None = None
    label: str = ""
    value_labels: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.choices and isinstance(self.choices[0], tuple):
            object.__setattr__(self, "value_labels", tuple(str(label) for _, label in self.choices))
            object.__setattr__(self, "choices", tuple(value for value, _ in self.choices))
        elif self.choices and not self.value_labels:
            object.__setattr__(self, "value_labels", tuple(self.choices))  # no wording of its own: the code
        if not self.label:
            object.__setattr__(self, "label", LABELS[self.name])
        if len(self.label) > LABEL_MAX:
            raise ValueError(f"{self.name}: label longer than {LABEL_MAX} characters (Stata's limit)")

    @property
    def alias(self) -> str:
        """The name the column has in the SQL: prefixed, so it never clashes with a model field (a released
        `episode_id` is the pseudonym, not AdverseEvent.episode_id)."""
        return ALIAS_PREFIX + self.name

    def expression(self, release: Any = None) -> Any:
        """The column's SQL. A quasi-identifier's depends on the release (research.kanon.Release: the site's
        bands and what k-anonymity blanks); without one it is null."""
        source = self.name if self.source is None else self.source
        if isinstance(source, Released):
            return source.expression(release)
        return F(source) if isinstance(source, str) else source

    @property
    def codes(self) -> list[dict[str, Any]]:
        """How a coded column is stored in .sav and .dta files: a number (`code`) with a value label. A code is
        the 1-based position of its value in `values`, so adding a value at the end keeps the others' numbers.
        Booleans are 0 (false) and 1 (true)."""
        if self.kind == "boolean":
            return [{"code": code, "value": value, "label": label} for code, value, label in BOOLEAN_CODES]
        return [
            {"code": n, "value": value, "label": label}
            for n, (value, label) in enumerate(zip(self.choices, self.value_labels, strict=True), start=1)
        ]

    def dictionary(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "type": self.kind,
            "label": self.label,
            "description": self.description,
        }
        if self.choices:
            out["values"] = list(self.choices)
        if self.unit:
            out["unit"] = self.unit
        if self.choices or self.kind == "boolean":
            out["codes"] = self.codes
        if stata_name(self.name) != self.name:
            out["stata_name"] = stata_name(self.name)
        return out


def _values(choices: type[models.TextChoices]) -> tuple[tuple[str, str], ...]:
    """The codes of a TextChoices with their labels, in its order."""
    return tuple((value, str(label)) for value, label in choices.choices)


def episode_columns(ep: str, *, first_administration: bool = True) -> list[Column]:
    """The covariates every row carries: who (pseudonyms, sex, age), where (site), what joint, and (with
    `first_administration`) what was injected. `ep` is the lookup prefix from the base model to the episode."""
    pat = f"{ep}patient__"
    columns = [
        Column(
            "subject_id",
            "string",
            "Pseudonymous subject ID: random, stable within the registry, not derived from any identifier.",
            f"{pat}research_pseudonym__pseudonym",
        ),
        Column(
            "episode_id",
            "string",
            "Pseudonymous treatment-episode ID (one treated joint or spinal level; a bilateral treatment is two).",
            f"{ep}research_pseudonym__pseudonym",
        ),
        Column("site", "string", "Code of the treating site.", f"{pat}site__code"),
        Column("joint", "string", "Treated joint.", f"{ep}joint", _values(Joint)),
        Column("side", "string", "Side (midline for the spine).", f"{ep}side", _values(Side)),
        Column(
            "kl_grade",
            "integer",
            "Kellgren-Lawrence grade 0-4 at baseline (knee and hip; empty for the spine or when not graded).",
            f"{ep}kl_grade",
        ),
        Column(
            "sex", "string", f"Sex. {_BLANKED.format(qi='sex')}", Released("sex", ep), _values(Sex)
        ),
        Column(
            "age_band",
            "string",
            "Age in completed years at the index date, as a band of the site's release policy (dictionary: "
            "release_policies): '50-59' (10-year bands), '57' (1-year bands), '90+' (the top band; 90 and over are "
            f"always pooled, Safe Harbor). {_BLANKED.format(qi='age')}",
            Released("age_band", ep),
            unit="years",
        ),
        Column(
            "age_low",
            "integer",
            f"Lowest age of the age band (inclusive): age_low <= age < age_high. {_BLANKED.format(qi='age')}",
            Released("age_low", ep),
            unit="years",
        ),
        Column(
            "age_high",
            "integer",
            "First age above the age band (exclusive): age_low <= age < age_high; empty for the top band (90+). "
            f"{_BLANKED.format(qi='age')}",
            Released("age_high", ep),
            unit="years",
        ),
        Column(
            "bmi_band",
            "string",
            "Body-mass index at baseline, as a band of the site's release policy: '25-29.9' (5 kg/m2 bands), '40+' "
            f"(the top band). Empty if not recorded. {_BLANKED.format(qi='bmi')}",
            Released("bmi_band", ep),
            unit="kg/m2",
        ),
        Column(
            "bmi_low",
            "integer",
            f"Lowest BMI of the BMI band (inclusive): bmi_low <= BMI < bmi_high. {_BLANKED.format(qi='bmi')}",
            Released("bmi_low", ep),
            unit="kg/m2",
        ),
        Column(
            "bmi_high",
            "integer",
            "First BMI above the BMI band (exclusive): bmi_low <= BMI < bmi_high; empty for the top band. "
            f"{_BLANKED.format(qi='bmi')}",
            Released("bmi_high", ep),
            unit="kg/m2",
        ),
        Column(
            "qi_suppressed",
            "string",
            "The quasi-identifiers blanked in this row so that every combination of site, sex, age band and BMI "
            "band holds at least k subjects (k of the site's release policy): 'sex', 'age' (age_band, age_low, "
            "age_high), 'bmi' (bmi_band, bmi_low, bmi_high), separated by ';' (e.g. 'age;bmi'). Empty when nothing "
            "was blanked. A missing-data code, never a value: treat the blanked values as missing.",
            Released("qi_suppressed", ep),
        ),
        Column(
            "index_year",
            "integer",
            "Calendar year of the index date (first administration).",
            ExtractYear(f"{ep}index_date"),
        ),
    ]
    if first_administration:
        columns += [
            Column(
                "product_type",
                "string",
                "Product of the episode's first administration (earliest date, then earliest entry).",
                f"{ep}first_product_type",
                _values(ProductType),
            ),
            Column(
                "source",
                "string",
                "Autologous or allogeneic (na: acellular), of the first administration.",
                f"{ep}first_source",
                _values(CellSource),
            ),
            Column(
                "cell_dose_millions",
                "number",
                "Cell dose of the first administration, in million cells (empty for acellular products).",
                f"{ep}first_cell_dose_millions",
                unit="10^6 cells",
            ),
        ]
    return columns


@dataclass(frozen=True)
class Dataset:
    """A released table: base model, columns in output order, what one row is, and how to order rows."""

    name: str
    row: str
    model: type[models.Model]
    columns: tuple[Column, ...]
    order_by: str = "id"
    notes: tuple[str, ...] = field(default=())

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def aliases(self) -> list[str]:
        return [c.alias for c in self.columns]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    def annotate(self, queryset: models.QuerySet, release: Any = None) -> models.QuerySet:
        """`queryset` (already scoped by research.access) with every column available under its name,
        for filtering and output. Rows are released with the `release` of the key (research.kanon.release_for_key);
        without one (summaries, which read no quasi-identifier) sex, age and BMI are null."""
        return queryset.annotate(**{c.alias: c.expression(release) for c in self.columns})

    def rows(self, queryset: models.QuerySet, *, with_order_key: bool = True) -> models.QuerySet:
        """Rows as dicts keyed by alias, in column order (plus the ordering key, which pagination needs and
        output drops)."""
        names = self.aliases + ([self.order_by] if with_order_key else [])
        return queryset.values(*names).order_by(self.order_by)

    def dictionary(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "columns": [c.dictionary() for c in self.columns],
            **({"notes": list(self.notes)} if self.notes else {}),
        }


_PRIORS = [
    ("prior_nsaids", "Prior NSAIDs or analgesics."),
    ("prior_physiotherapy", "Prior physiotherapy or exercise."),
    ("prior_steroid_injection", "Prior corticosteroid injection."),
    ("prior_ha_injection", "Prior hyaluronic acid injection."),
    ("prior_prp_injection", "Prior PRP injection."),
    ("prior_surgery", "Prior surgery on this joint."),
]

TREATMENTS = Dataset(
    name="treatments",
    row="one treatment episode (a treated joint or spinal level of one subject)",
    model=TreatmentEpisode,
    columns=(
        *episode_columns(""),
        Column("diagnosis", "string", "Diagnosis.", "diagnosis", _values(Diagnosis)),
        *(Column(name, "boolean", text, name) for name, text in _PRIORS),
        Column(
            "n_administrations",
            "integer",
            "Number of administrations recorded for the episode (repeat injections included).",
            Coalesce(
                Subquery(
                    Administration.objects.filter(episode=OuterRef("pk"))
                    .order_by()
                    .values("episode")
                    .annotate(n=Count("pk"))
                    .values("n")
                ),
                Value(0),
            ),
        ),
        Column(
            "total_cell_dose_millions",
            "number",
            "Sum of the cell doses of all administrations, in million cells (empty if none recorded).",
            Subquery(
                Administration.objects.filter(episode=OuterRef("pk"))
                .order_by()
                .values("episode")
                .annotate(total=Sum("cell_dose_millions"))
                .values("total")
            ),
            unit="10^6 cells",
        ),
    ),
    notes=(
        "JSON rows also list the episode's administrations (see the administrations dataset for their columns); "
        "the CSV has one row per episode, and /api/v1/administrations/ gives the administrations as a table.",
        "Free text (spinal level, protocol description) is not released.",
    ),
)

ADMINISTRATIONS = Dataset(
    name="administrations",
    row="one administration (injection) of a biologic preparation",
    model=Administration,
    columns=(
        *episode_columns("episode__", first_administration=False),
        Column(
            "day",
            "integer",
            "Day of the administration, from the index date (0 = index).",
            days_from_index("administered_on", "episode__"),
        ),
        Column(
            "product_type",
            "string",
            "Product injected.",
            "product_type",
            _values(ProductType),
            label="Product injected",
        ),
        Column(
            "source",
            "string",
            "Autologous or allogeneic (na: acellular).",
            "source",
            _values(CellSource),
            label="Cell source",
        ),
        Column("tissue", "string", "Source tissue.", "tissue", _values(Administration.Tissue)),
        Column("harvest_site", "string", "Harvest site.", "harvest_site", _values(Administration.HarvestSite)),
        Column("harvest_volume_ml", "number", "Volume harvested.", "harvest_volume_ml", unit="mL"),
        Column("processing", "string", "Processing.", "processing", _values(Administration.Processing)),
        Column("centrifuge_spins", "integer", "Number of centrifuge spins.", "centrifuge_spins"),
        Column(
            "cell_dose_millions",
            "number",
            "Cell dose, in million cells.",
            "cell_dose_millions",
            unit="10^6 cells",
            label="Cell dose (million cells)",
        ),
        Column("viability_pct", "number", "Cell viability.", "viability_pct", unit="%"),
        Column("volume_ml", "number", "Volume injected.", "volume_ml", unit="mL"),
        Column("platelet_concentration", "integer", "PRP platelet count.", "platelet_concentration", unit="10^3/uL"),
        Column(
            "leukocytes",
            "string",
            "PRP: leukocyte-rich or -poor.",
            NullIf(F("leukocytes"), Value("")),
            _values(Administration.Leukocytes),
        ),
        Column(
            "activation",
            "string",
            "PRP activation.",
            NullIf(F("activation"), Value("")),
            _values(Administration.Activation),
        ),
        Column("route", "string", "Route.", "route", _values(Administration.Route)),
        Column("image_guidance", "string", "Image guidance.", "image_guidance", _values(Administration.Guidance)),
        Column("adjunct_prp", "boolean", "Given with PRP.", "adjunct_prp"),
        Column("adjunct_ha", "boolean", "Given with hyaluronic acid.", "adjunct_ha"),
        Column("adjunct_rehabilitation", "boolean", "Given with a rehabilitation programme.", "adjunct_rehabilitation"),
    ),
    notes=(
        "Filters on product type, source and cell dose apply to the administration itself here; on every other "
        "dataset they apply to the episode's first administration.",
        "Product name, device or kit and operator are free text and are not released.",
    ),
)

# The values a category score takes, every instrument's (HHS category, ODI band): no two share a code.
CATEGORY_VALUES = tuple(
    dict.fromkeys(c for i in scoring.INSTRUMENTS for o in stored_outputs(i) if o.kind == "category" for c in o.choices)
)

SCORES = Dataset(
    name="scores",
    row="one score: subject, episode, timepoint, instrument and score key (long format)",
    model=Score,
    columns=(
        *episode_columns("follow_up__episode__")[:2],
        Column(
            "timepoint",
            "string",
            "Follow-up timepoint (see timepoints for the windows).",
            "follow_up__timepoint",
            tuple((t, str(Timepoint(t).label)) for t in TIMEPOINT_ORDER),
        ),
        Column(
            "days_from_index",
            "integer",
            "Day the answers were given, from the index date (baseline is 0 or negative).",
            "follow_up__days_from_index",
        ),
        Column(
            "instrument",
            "string",
            "Instrument (see instruments).",
            "instrument",
            tuple((i, d.name) for i, d in scoring.INSTRUMENTS.items()),
        ),
        Column("key", "string", "Score key of the instrument (see instruments: outputs).", "key"),
        Column(
            "value", "number", "The score; empty when not scorable (too many items missing) or a category.", "value"
        ),
        Column(
            "value_text",
            "string",
            "The score when it is a category (e.g. HHS category, ODI band).",
            NullIf(F("value_text"), Value("")),
            CATEGORY_VALUES,
        ),
        Column(
            "mode",
            "string",
            "How the answers were given (empty for the full HHS, which combines two responses).",
            "response__mode",
            _values(Mode),
        ),
        Column(
            "items_missing",
            "string",
            "Items of the response without an answer and why, in the form's order: 'P3:declined;S7:not_asked' "
            f"(codes: {'; '.join(f'{c.value} = {c.label.lower()}' for c in MissingCode)}). Empty when every item "
            "was answered. Never a value: a blank item is not scored as 0.",
            NullIf(F("response__missing_codes"), Value("")),
        ),
        Column("scoring_version", "string", "Version of the scoring rules that computed the score.", "scoring_version"),
        Column(
            "stale",
            "boolean",
            "True while the score waits to be recomputed under the current scoring rules (after they changed, for a "
            "few minutes to hours); then its value may still change. False for every score once rescoring is done.",
            Case(
                When(scoring_version=scoring.SCORING_VERSION, then=Value(False)),
                default=Value(True),
                output_field=models.BooleanField(),
            ),
        ),
        *episode_columns("follow_up__episode__")[2:],
    ),
    notes=(
        "Scores are computed when the answers are stored and recomputed in the background when the scoring rules "
        "change; scoring_version says which rules produced each, and stale is true for a score not yet recomputed "
        "(kept, not withheld, so counts do not jump while rescoring runs: drop stale rows, or wait until none is "
        "left, for an analysis under one version of the rules).",
        "Derived instruments: womac_from_koos and womac_from_hoos are the WOMAC scored from the KOOS or HOOS "
        "answers, koos_jr_from_koos and koos12_from_koos the KOOS JR and KOOS-12 from the KOOS, hoos_jr_from_hoos "
        "the HOOS JR from the HOOS (the patient answers once; the short form asked on its own is koos_jr, koos12 "
        "or hoos_jr); hhs is the full Harris Hip Score from mhhs and the clinician's examination.",
        "EQ-5D-5L: each index (key index) is computed in the value set of the site's choice (else its country's); "
        "the row with key value_set names it (US, DE, GB-ENG, JP, KR, CN). Compare or pool indices of one value "
        "set only. Both are empty where the site has no value set.",
    ),
)

ADVERSE_EVENTS = Dataset(
    name="adverse_events",
    row="one adverse event",
    model=AdverseEvent,
    columns=(
        *episode_columns("episode__"),
        Column(
            "onset_day", "integer", "Day of onset, from the index date.", days_from_index("onset_date", "episode__")
        ),
        Column("event_type", "string", "Type of event.", "event_type", _values(AdverseEventType)),
        Column("grade", "integer", "CTCAE grade 1-5.", "grade"),
        Column("serious", "boolean", "Serious adverse event.", "serious"),
        Column("relatedness", "string", "Relatedness to the treatment.", "relatedness", _values(Relatedness)),
        Column("outcome", "string", "Outcome.", "outcome", _values(AdverseEventOutcome)),
        Column(
            "resolution_day",
            "integer",
            "Day of resolution, from the index date (empty if not resolved).",
            days_from_index("resolution_date", "episode__"),
        ),
    ),
    notes=("The description is free text and is not released.",),
)

SURGERIES = Dataset(
    name="surgeries",
    row="one subsequent surgery on the treated joint",
    model=SubsequentSurgery,
    columns=(
        *episode_columns("episode__"),
        Column(
            "surgery_day",
            "integer",
            "Day of the surgery, from the index date.",
            days_from_index("surgery_date", "episode__"),
        ),
        Column("surgery_type", "string", "Type of surgery.", "surgery_type", _values(SurgeryType)),
        Column(
            "arthroplasty",
            "boolean",
            "Total or partial arthroplasty: the event of the time-to-arthroplasty analysis.",
            models.Case(
                models.When(surgery_type__in=SubsequentSurgery.ARTHROPLASTY, then=Value(True)),
                default=Value(False),
                output_field=models.BooleanField(),
            ),
        ),
    ),
)

DATASETS = {d.name: d for d in (TREATMENTS, ADMINISTRATIONS, SCORES, ADVERSE_EVENTS, SURGERIES)}


# Wide scores ----------------------------------------------------------------------------------------------

# A wide row is one follow-up (episode and timepoint). Mode, scoring version and staleness belong to each score and
# may differ within a follow-up, so they are in the long format only.
WIDE_FIXED = [
    c
    for c in SCORES.columns
    if c.name not in ("instrument", "key", "value", "value_text", "mode", "scoring_version", "stale")
]


def wide_column_name(instrument: str, key: str) -> str:
    return f"{instrument}_{key}"


def _all_score_columns() -> list[tuple[str, scoring.Output]]:
    return [(i, o) for i in scoring.INSTRUMENTS for o in stored_outputs(i)]


STATA_NAME_MAX = 32


def stata_name(name: str) -> str:
    """The column's name in a Stata .dta file, which allows 32 characters: the name itself, or for the longest
    wide columns (womac_from_koos_stiffness_0_100_inv) without "_from" (womac_koos_stiffness_0_100_inv)."""
    if len(name) <= STATA_NAME_MAX:
        return name
    short = name.replace("_from_", "_", 1)
    if len(short) > STATA_NAME_MAX:
        raise ValueError(f"{name}: no Stata name of at most {STATA_NAME_MAX} characters")
    return short


_WIDE_NAMES = [wide_column_name(i, o.key) for i, o in _all_score_columns()]
assert len(_WIDE_NAMES) == len(set(_WIDE_NAMES)), "wide score column names must be unique"
_STATA_NAMES = [stata_name(n) for n in _WIDE_NAMES] + [c.name for d in DATASETS.values() for c in d.columns]
assert len(set(_STATA_NAMES)) == len(set(_WIDE_NAMES)) + len({c.name for d in DATASETS.values() for c in d.columns})


def wide_score_columns(instruments: Iterable[str] | None = None, keys: Iterable[str] | None = None) -> list[Column]:
    """The score columns of the wide shape for the chosen instruments and keys (all when not chosen), in the
    instruments' order: `<instrument>_<key>`."""
    instruments = set(instruments or scoring.INSTRUMENTS)
    keys = set(keys) if keys else None
    out = []
    for instrument, output in _all_score_columns():
        if instrument not in instruments or (keys is not None and output.key not in keys):
            continue
        category = output.kind == "category"
        definition = scoring.INSTRUMENTS[instrument]
        # The output's own label names its instrument (KOOS pain, WOMAC pain); a derived instrument's outputs are
        # those of the instrument it is derived as, so its name goes first.
        label = f"{definition.name}: {output.label}" if definition.derived_from else output.label
        if len(label) > LABEL_MAX:  # the range in brackets goes first (the dictionary has min and max)
            label = label.rsplit(" (", 1)[0]
        if len(label) > LABEL_MAX:
            label = label[: LABEL_MAX - 3].rstrip() + "..."
        out.append(
            Column(
                wide_column_name(instrument, output.key),
                "string" if category else "number",
                f"{definition.name}: {output.label}",
                (instrument, output.key, category),
                output.choices,
                label=label,
            )
        )
    return out


def wide_rows(
    queryset: models.QuerySet, score_columns: Sequence[Column], *, with_order_key: bool = True
) -> models.QuerySet:
    """One row per episode and timepoint from an annotated, filtered scores queryset."""
    aggregates = {}
    for column in score_columns:
        instrument, key, category = column.source
        # An unscorable category is stored as "" beside a null value: in the wide shape it is null, like numbers.
        target = NullIf(F("value_text"), Value("")) if category else F("value")
        aggregates[column.alias] = Max(
            models.Case(models.When(instrument=instrument, key=key, then=target), default=Value(None))
        )
    fixed = [c.alias for c in WIDE_FIXED]
    grouped = queryset.order_by().values("follow_up_id", *fixed).annotate(**aggregates)
    out = [*fixed, *aggregates]
    if with_order_key:
        out.append("follow_up_id")
    return grouped.values(*out).order_by("follow_up_id")
