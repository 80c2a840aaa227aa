"""Release checks against re-identification: k-anonymity of the research rows' quasi-identifiers.

Quasi-identifiers (QIs) are the released values an outsider can know about a person and link on: the treating
**site**, **sex**, **age** at the index date and **BMI** at baseline. Without generalisation site, sex, exact age
and BMI together were unique for 229 of the demo's 231 research subjects. The other released columns are the
treatment and its outcomes, what the release is for (joint, side, diagnosis, KL grade, product, dose, priors,
scores, days from the index date, index year): they are not treated as QIs. The index year comes closest (a person
may be known to have been treated in a year), and it is coarse: a site that must treat it as a QI needs a stricter
k. No country or travel origin is released (the site's code says where).

Each site's policy (registry.ReleasePolicy; the defaults for a site without one) says:

- age is released as a band of `age_band_years` years aligned on multiples of the width ("50-59"; width 1: the
  year of age), from `age_top_code` on as one band ("90+", never above 90: Safe Harbor);
- BMI as a band of `bmi_band` kg/m2 ("25-29.9"), from `bmi_top_code` on as one band ("40+");
- every combination of released QI values holds at least `k` subjects (distinct patients, not rows).

Each band is a label (`age_band`) and numeric bounds (`age_low` inclusive, `age_high` exclusive; empty for the
top band), so R, Stata or pandas can use the bounds without parsing the label.

Enforcement is local suppression, greedy and deterministic, per site (site is a QI too, so equivalence classes
never span sites and a site's rows are the same whatever other sites a key reads): the subjects' banded
combinations of (sex, age band, BMI band) are counted over the site's WHOLE release (all of its released episodes,
never a page or a filtered list, so filters cannot be differenced against each other). A combination held by
fewer than k subjects loses its QI with the most distinct values at that site (ties: BMI, then age, then sex),
which pools it with the others that lost the same; a pool still under k loses the next QI, and so on. When the last
pool (site only) holds fewer than k subjects, the smallest of the remaining groups (the most generalised first)
join it whole until it holds k. Blanked values are released empty (null), and the row's `qi_suppressed` column
names them (`age;bmi`), as `items_missing` names unanswered items: empty means nothing was blanked, so an empty
`bmi_band` with an empty `qi_suppressed` is a BMI that was never recorded. A site whose whole release holds fewer
than k subjects cannot be k-anonymous by blanking values (its rows would carry the site only, one class under
k): none of its rows are released, in any row dataset, the FHIR export included, until it holds k subjects
(`Release.withhold`); `research_kanon` names it. Aggregates still count its subjects (their own small-cell
suppression and cell-key perturbation protect them).

The decisions are a function of the banded combinations, so the SQL of every dataset applies them in the database
(a CASE on the row's combination key): the JSON pages, the CSV (Python writer and PostgreSQL COPY), the labelled
files and the wide scores release the same values. A combination the decisions do not know (a row added between
the count and the read) is released with every QI blank. The count is one grouped query over the release; it runs
once per request.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import models
from django.db.models import Case, Count, F, Q, Value, When
from django.db.models.functions import Cast, Coalesce, Concat, Floor, Least
from django.db.models.lookups import GreaterThanOrEqual, In

from registry.models import ReleasePolicy, TreatmentEpisode

# The suppressible QIs, in the order ties are broken (blanked first: BMI, then age, then sex). Site is never blanked.
QIS = ("bmi", "age", "sex")
# The released columns each QI gives (a blanked QI blanks them all).
QI_COLUMNS = {
    "sex": ("sex",),
    "age": ("age_band", "age_low", "age_high"),
    "bmi": ("bmi_band", "bmi_low", "bmi_high"),
}
# The order the QIs are named in `qi_suppressed`.
QI_LABEL_ORDER = ("sex", "age", "bmi")
SEPARATOR = "|"


@dataclass(frozen=True)
class Policy:
    k: int
    age_band_years: int
    age_top_code: int
    bmi_band: int
    bmi_top_code: int | None
    default: bool = False

    def describe(self) -> str:
        bmi_top = f", {self.bmi_top_code}+" if self.bmi_top_code is not None else ""
        return (
            f"k={self.k}, age bands of {self.age_band_years} years ({self.age_top_code}+), BMI bands of "
            f"{self.bmi_band} kg/m2{bmi_top}{' (defaults)' if self.default else ''}"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "k": self.k,
            "age_band_years": self.age_band_years,
            "age_top_code": self.age_top_code,
            "bmi_band": self.bmi_band,
            "bmi_top_code": self.bmi_top_code,
            "default": self.default,
        }


DEFAULT_POLICY = Policy(
    k=ReleasePolicy.DEFAULT_K,
    age_band_years=ReleasePolicy.DEFAULT_AGE_BAND_YEARS,
    age_top_code=ReleasePolicy.DEFAULT_AGE_TOP_CODE,
    bmi_band=ReleasePolicy.DEFAULT_BMI_BAND,
    bmi_top_code=ReleasePolicy.DEFAULT_BMI_TOP_CODE,
    default=True,
)


def policies(site_ids: Iterable[int]) -> dict[int, Policy]:
    """Each site's policy: its ReleasePolicy row, or the defaults."""
    site_ids = list(site_ids)
    out = dict.fromkeys(site_ids, DEFAULT_POLICY)
    for row in ReleasePolicy.objects.filter(site_id__in=site_ids):
        out[row.site_id] = Policy(row.k, row.age_band_years, row.age_top_code, row.bmi_band, row.bmi_top_code)
    return out


# Banding in SQL ---------------------------------------------------------------------------------------------


def _text(expression: Any) -> Any:
    return Cast(expression, models.CharField())


def _int(expression: Any) -> Any:
    return Cast(expression, models.IntegerField())


def _age(ep: str) -> Any:
    from research.deid import age_at_index  # deid builds its columns from this module

    return age_at_index(ep)


def age_low(ep: str, p: Policy) -> Any:
    age = _age(ep)
    # Whole numbers on both sides: integer division, which floors a non-negative age on PostgreSQL and SQLite.
    return Case(
        When(GreaterThanOrEqual(age, p.age_top_code), then=Value(p.age_top_code)),
        default=(age / Value(p.age_band_years)) * Value(p.age_band_years),
        output_field=models.IntegerField(),
    )


def age_high(ep: str, p: Policy) -> Any:
    """Exclusive upper bound; null for the top band."""
    age = _age(ep)
    return Case(
        When(GreaterThanOrEqual(age, p.age_top_code), then=Value(None)),
        default=Least(age_low(ep, p) + Value(p.age_band_years), Value(p.age_top_code)),
        output_field=models.IntegerField(),
    )


def age_band(ep: str, p: Policy) -> Any:
    age = _age(ep)
    if p.age_band_years == 1:
        inner: Any = _text(age)
    else:
        inner = Concat(_text(age_low(ep, p)), Value("-"), _text(age_high(ep, p) - Value(1)))
    return Case(
        When(GreaterThanOrEqual(age, p.age_top_code), then=Value(f"{p.age_top_code}+")),
        default=inner,
        output_field=models.CharField(),
    )


def _bmi(ep: str) -> Any:
    return F(f"{ep}bmi")


def bmi_low(ep: str, p: Policy) -> Any:
    whens = [When(**{f"{ep}bmi__isnull": True}, then=Value(None))]
    if p.bmi_top_code is not None:
        whens.append(When(GreaterThanOrEqual(_bmi(ep), p.bmi_top_code), then=Value(p.bmi_top_code)))
    # Floor of a decimal (exact on PostgreSQL; on SQLite a one-decimal BMI over a whole width floors right).
    return Case(
        *whens,
        default=_int(Floor(_bmi(ep) / Value(p.bmi_band)) * Value(p.bmi_band)),
        output_field=models.IntegerField(),
    )


def bmi_high(ep: str, p: Policy) -> Any:
    whens = [When(**{f"{ep}bmi__isnull": True}, then=Value(None))]
    top = p.bmi_top_code
    if top is not None:
        whens.append(When(GreaterThanOrEqual(_bmi(ep), top), then=Value(None)))
        upper: Any = Least(bmi_low(ep, p) + Value(p.bmi_band), Value(top))
    else:
        upper = bmi_low(ep, p) + Value(p.bmi_band)
    return Case(*whens, default=upper, output_field=models.IntegerField())


def bmi_band(ep: str, p: Policy) -> Any:
    whens = [When(**{f"{ep}bmi__isnull": True}, then=Value(None))]
    if p.bmi_top_code is not None:
        whens.append(When(GreaterThanOrEqual(_bmi(ep), p.bmi_top_code), then=Value(f"{p.bmi_top_code}+")))
    return Case(
        *whens,
        default=Concat(_text(bmi_low(ep, p)), Value("-"), _text(bmi_high(ep, p) - Value(1)), Value(".9")),
        output_field=models.CharField(),
    )


def _sex(ep: str, p: Policy) -> Any:
    return F(f"{ep}patient__sex")


BANDED = {
    "sex": _sex,
    "age_band": age_band,
    "age_low": age_low,
    "age_high": age_high,
    "bmi_band": bmi_band,
    "bmi_low": bmi_low,
    "bmi_high": bmi_high,
}


def combination(ep: str, p: Policy) -> Any:
    """The row's banded QI combination as one string, site id first: `3|female|50|25` (BMI empty if none)."""
    return Concat(
        _text(F(f"{ep}patient__site_id")),
        Value(SEPARATOR),
        F(f"{ep}patient__sex"),
        Value(SEPARATOR),
        _text(age_low(ep, p)),
        Value(SEPARATOR),
        Coalesce(_text(bmi_low(ep, p)), Value("")),
        output_field=models.CharField(),
    )


# Suppression ------------------------------------------------------------------------------------------------


Combo = tuple[str, str, str]  # (sex, age_low, bmi_low) as in the combination key, the site apart
BLANK = "*"


@dataclass
class SiteRelease:
    """One site's release: its policy, the greedy order, each banded combination's level (how many QIs of `order`
    it loses) and what that cost."""

    site_id: int
    code: str
    policy: Policy
    order: tuple[str, ...] = ()
    subjects: int = 0
    episodes: int = 0
    levels: dict[Combo, int] = field(default_factory=dict)
    # (combo -> subjects and episodes) as counted
    combo_subjects: dict[Combo, set[int]] = field(default_factory=dict)
    combo_episodes: dict[Combo, int] = field(default_factory=dict)

    def key(self, combo: Combo) -> str:
        return SEPARATOR.join((str(self.site_id), *combo))

    def blanked(self, combo: Combo) -> tuple[str, ...]:
        return self.order[: self.levels.get(combo, len(self.order))]

    def released(self, combo: Combo) -> tuple[str, ...]:
        """The combination as released: each blanked QI as BLANK."""
        gone = set(self.blanked(combo))
        return tuple(BLANK if qi in gone else value for qi, value in zip(("sex", "age", "bmi"), combo, strict=True))

    def suppressed_label(self, combo: Combo) -> str | None:
        """What `qi_suppressed` says for the combination: the blanked QIs that had a value."""
        gone = set(self.blanked(combo))
        values = dict(zip(("sex", "age", "bmi"), combo, strict=True))
        named = [qi for qi in QI_LABEL_ORDER if qi in gone and values[qi] != ""]
        return ";".join(named) or None

    # Figures for the report

    def classes_before(self) -> dict[Combo, int]:
        return {c: len(s) for c, s in self.combo_subjects.items()}

    def classes_after(self) -> dict[tuple[str, ...], int]:
        pooled: dict[tuple[str, ...], set[int]] = defaultdict(set)
        for combo, subjects in self.combo_subjects.items():
            pooled[self.released(combo)] |= subjects
        return {c: len(s) for c, s in pooled.items()}

    def suppressed_values(self) -> dict[str, int]:
        """Rows (episodes) whose value of each QI is blanked."""
        out = dict.fromkeys(QI_LABEL_ORDER, 0)
        for combo, n in self.combo_episodes.items():
            label = self.suppressed_label(combo)
            for qi in (label or "").split(";"):
                if qi:
                    out[qi] += n
        return out

    @property
    def withheld(self) -> bool:
        """Fewer than k subjects in the whole release: no blanking can make it k-anonymous, so none of its rows
        are released (a site with none yet included: a row added between the count and the read stays out)."""
        return self.subjects < self.policy.k

    @property
    def meets_k(self) -> bool:
        """Every class it releases holds k subjects (a withheld site releases none)."""
        return self.withheld or all(n >= self.policy.k for n in self.classes_after().values())


def greedy_order(combos: Iterable[Combo]) -> tuple[str, ...]:
    """The QIs in the order they are blanked: most distinct values at the site first, ties as QIS."""
    combos = list(combos)
    position = {"sex": 0, "age": 1, "bmi": 2}
    distinct = {qi: len({c[position[qi]] for c in combos}) for qi in QIS}
    return tuple(sorted(QIS, key=lambda qi: (-distinct[qi], QIS.index(qi))))


def suppress(site: SiteRelease) -> None:
    """Assign each combination its level (see the module docstring). Deterministic: groups are visited in sorted
    order and ties broken by their released values."""
    k = site.policy.k
    order = site.order = greedy_order(site.combo_subjects)
    positions = {"sex": 0, "age": 1, "bmi": 2}
    levels = site.levels = dict.fromkeys(sorted(site.combo_subjects), 0)
    top = len(order)

    def project(combo: Combo, level: int) -> tuple[str, ...]:
        gone = {positions[qi] for qi in order[:level]}
        return tuple(BLANK if i in gone else v for i, v in enumerate(combo))

    def groups(level: int) -> dict[tuple[str, ...], list[Combo]]:
        out: dict[tuple[str, ...], list[Combo]] = defaultdict(list)
        for combo, at in levels.items():
            if at == level:
                out[project(combo, level)].append(combo)
        return out

    def subjects(combos: Sequence[Combo]) -> set[int]:
        return set().union(*(site.combo_subjects[c] for c in combos)) if combos else set()

    for level in range(top):
        for _, members in sorted(groups(level).items()):
            if len(subjects(members)) < k:
                for combo in members:
                    levels[combo] = level + 1
    pool = subjects([c for c, at in levels.items() if at == top])
    while 0 < len(pool) < k:
        candidates = [
            (-level, len(subjects(members)), released, members)
            for level in range(top)
            for released, members in groups(level).items()
        ]
        if not candidates:
            break  # the site holds fewer than k subjects: nothing left to pool
        *_, members = min(candidates, key=lambda c: c[:3])
        for combo in members:
            levels[combo] = top
        pool |= subjects(members)


@dataclass
class Release:
    """The release of a set of sites: per site, its policy and decisions. `column(name, ep)` is the SQL of a QI
    column for rows whose episode is reached by the lookup prefix `ep`."""

    sites: dict[int, SiteRelease]

    @property
    def withheld_site_ids(self) -> list[int]:
        return sorted(sid for sid, site in self.sites.items() if site.withheld)

    def withhold(self, queryset: models.QuerySet) -> models.QuerySet:
        """`queryset` (research rows of any patient-level model) without the rows of the sites withheld."""
        withheld = self.withheld_site_ids
        if not withheld:
            return queryset
        return queryset.exclude(**{f"{queryset.model.SITE_PATH}_id__in": withheld})

    def _when(self, ep: str, site: SiteRelease, combos: list[Combo], then: Any) -> When | None:
        if not combos:
            return None
        return When(
            Q(**{f"{ep}patient__site_id": site.site_id})
            & In(combination(ep, site.policy), [site.key(c) for c in combos]),
            then=then,
        )

    def column(self, name: str, ep: str) -> Any:
        """The released value of a QI column: banded by the site's policy, null where blanked (or unknown)."""
        output: models.Field = (
            models.CharField() if name in ("sex", "age_band", "bmi_band", "qi_suppressed") else models.IntegerField()
        )
        whens = []
        if name == "qi_suppressed":
            for site in self.sites.values():
                by_label: dict[str | None, list[Combo]] = defaultdict(list)
                for combo in site.levels:
                    by_label[site.suppressed_label(combo)].append(combo)
                for label, combos in sorted(by_label.items(), key=lambda kv: kv[0] or ""):
                    whens.append(self._when(ep, site, combos, Value(label)))
            default: Any = Value(";".join(QI_LABEL_ORDER))
        else:
            qi = next(q for q, cols in QI_COLUMNS.items() if name in cols)
            for site in self.sites.values():
                kept = [c for c in site.levels if qi not in site.blanked(c)]
                whens.append(self._when(ep, site, kept, BANDED[name](ep, site.policy)))
            default = Value(None)
        whens = [w for w in whens if w is not None]
        if not whens:
            return Value(None, output_field=output) if default.value is None else default
        return Case(*whens, default=default, output_field=output)


def compute(episodes: models.QuerySet, site_codes: dict[int, str] | None = None, *, k: int | None = None) -> Release:
    """The release decisions for a queryset of released treatment episodes (research.access's rule): one grouped
    query counts episodes per site, banded combination and subject, then one pass in Python decides."""
    if site_codes is None:
        site_ids = set(episodes.order_by().values_list("patient__site_id", flat=True).distinct())
        from registry.models import Site

        site_codes = dict(Site.objects.filter(pk__in=site_ids).values_list("pk", "code"))
    site_policies = policies(site_codes)
    if k is not None:
        site_policies = {sid: dataclasses.replace(p, k=k) for sid, p in site_policies.items()}
    sites = {sid: SiteRelease(sid, code, site_policies[sid]) for sid, code in site_codes.items()}
    if not sites:
        return Release(sites)
    combo = Case(
        *(When(patient__site_id=sid, then=combination("", s.policy)) for sid, s in sites.items()),
        default=Value(None),
        output_field=models.CharField(),
    )
    counted = (
        episodes.order_by()
        .annotate(_kanon_combo=combo)
        .values("_kanon_combo", "patient_id")
        .annotate(n=Count("pk"))
        .values_list("_kanon_combo", "patient_id", "n")
    )
    seen: dict[int, set[int]] = defaultdict(set)
    for key, patient, n in counted:
        if key is None:
            continue
        site_id, sex, age, bmi = key.split(SEPARATOR)
        site = sites[int(site_id)]
        c = (sex, age, bmi)
        site.combo_subjects.setdefault(c, set()).add(patient)
        site.combo_episodes[c] = site.combo_episodes.get(c, 0) + n
        site.episodes += n
        seen[site.site_id].add(patient)
    for site in sites.values():
        site.subjects = len(seen[site.site_id])
        suppress(site)
    return Release(sites)


def release_for_key(key: Any) -> Release:
    """The release of everything `key` reads (all of its sites, unfiltered)."""
    from research.access import research_queryset

    codes = dict(key.sites.values_list("pk", "code")) if key is not None else {}
    return compute(research_queryset(TreatmentEpisode, key), codes)


def release_for_sites(site_ids: Iterable[int], *, k: int | None = None) -> Release:
    """The release of these sites as any key reading them would get it (the command's view); `k` instead of
    each site's own, to see what a stricter policy would cost."""
    from registry.models import Site
    from research.access import registry_research_queryset

    codes = dict(Site.objects.filter(pk__in=list(site_ids)).values_list("pk", "code"))
    episodes = registry_research_queryset(TreatmentEpisode).filter(patient__site_id__in=list(codes))
    return compute(episodes, codes, k=k)
