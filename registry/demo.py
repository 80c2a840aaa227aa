"""Deterministic, plausible synthetic data for the demo, the tests and the scale benchmark.

Nothing here is real: names come from short invented lists, emails use the reserved `.test` domain, phone
numbers the 555-01xx fiction range. The same seed and as-of date give the same data. Rows are written in
chunks, with their history rows, by COPY on PostgreSQL (`bulk_insert`; simple-history's bulk helper on SQLite),
so that 100,000 patients fit in memory; on an empty PostgreSQL database the big tables' indexes and constraints
are built once, after the load (`indexes_built_once`).
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from django.db import connection, models, transaction
from simple_history.utils import bulk_create_with_history

from registry.models import (
    Administration,
    AdverseEvent,
    Diagnosis,
    Joint,
    Patient,
    PatientIdentity,
    ProductType,
    Protocol,
    Sex,
    Side,
    Site,
    SubsequentSurgery,
    TreatmentEpisode,
)

SEED_REASON = "seed_demo (synthetic data)"

DEMO_SITES = [
    ("HRJ", "Han River Joint Clinic", "Asia/Seoul", "KR"),
    ("SRO", "Sakura Regenerative Orthopaedics", "Asia/Tokyo", "JP"),
    ("PBM", "Pacific Bay Musculoskeletal", "America/Los_Angeles", "US"),
    ("NMO", "Northmoor Orthobiologics", "Europe/London", "GB"),
]

_GIVEN_F = [
    "Ana",
    "Bea",
    "Chloe",
    "Dana",
    "Eun",
    "Fumiko",
    "Grace",
    "Hana",
    "Iris",
    "Jia",
    "Keiko",
    "Lena",
    "Mina",
    "Nora",
    "Olga",
    "Priya",
    "Rosa",
    "Sora",
    "Tess",
    "Uma",
    "Vera",
    "Wren",
    "Yuna",
    "Zoe",
]
_GIVEN_M = [
    "Aaron",
    "Bo",
    "Carl",
    "Dae",
    "Emil",
    "Felix",
    "Gus",
    "Haruto",
    "Ivan",
    "Jun",
    "Kenji",
    "Luis",
    "Min",
    "Nico",
    "Omar",
    "Paul",
    "Quinn",
    "Ren",
    "Sven",
    "Taro",
    "Umar",
    "Victor",
    "Wei",
    "Yusuf",
]
_FAMILY = [
    "Abe",
    "Baker",
    "Cho",
    "Diaz",
    "Endo",
    "Fox",
    "Gray",
    "Han",
    "Ito",
    "Jang",
    "Kim",
    "Lee",
    "Moss",
    "Nakamura",
    "Oh",
    "Park",
    "Quist",
    "Reyes",
    "Sato",
    "Tan",
    "Ueda",
    "Vance",
    "Watanabe",
    "Yoon",
]


@dataclass
class SeedReport:
    sites: int = 0
    protocols: int = 0
    patients: int = 0
    episodes: int = 0
    administrations: int = 0
    adverse_events: int = 0
    surgeries: int = 0
    follow_ups: int = 0
    responses: int = 0
    scores: int = 0
    skipped_sites: list[str] = field(default_factory=list)


class SeedError(ValueError):
    pass


@dataclass(frozen=True)
class SeedExtras:
    """What the apps above the core seed alongside it (project.demo fills this in; the core imports none of them).

    - `sites_ready(sites)`: once the sites exist (follow-up loads the demo wording);
    - `chunk_seeded(rng, episodes, first_product, as_of)`: after each chunk of episodes is in, with the chunk's
      random stream, so that the same seed gives the same data; returns counts to add to the report
      (follow_ups, responses, scores);
    - `bulk_tables`: the big tables whose indexes a large seed builds once, after the load.
    """

    sites_ready: Callable[[list[Site]], None] | None = None
    chunk_seeded: Callable[[random.Random, list[TreatmentEpisode], dict[int, str], date], dict[str, int]] | None = None
    bulk_tables: tuple[str, ...] = ()


# Who prefers which language, by where the clinic is: many patients travel from abroad (DOMAIN.md).
_DEMO_LANGUAGES = {
    "Asia/Seoul": [("ko", 0.6), ("en", 0.2), ("zh-hans", 0.1), ("ja", 0.05), ("zh-hant", 0.05)],
    "Asia/Tokyo": [("ja", 0.6), ("en", 0.2), ("zh-hans", 0.1), ("ko", 0.05), ("zh-hant", 0.05)],
}
_DEMO_LANGUAGES_ELSEWHERE = [("en", 0.8), ("zh-hans", 0.1), ("ko", 0.05), ("ja", 0.05)]


def _demo_language(site: Site, registry_id: str) -> str:
    """A patient's preferred language, from a random stream of its own (seeded by the registry ID), so that the
    rest of the seed stays what it was."""
    options = _DEMO_LANGUAGES.get(site.time_zone, _DEMO_LANGUAGES_ELSEWHERE)
    return str(_weighted(random.Random(f"language:{registry_id}"), options))


# How patients want to be contacted, by country: texts are the habit in Korea and Japan (DOMAIN.md). Synthetic
# mobile numbers (written to the demo's text-message folder only): Korea's 010-0000-xxxx, Japan's 090, the US
# fictional 555-01xx; none for the UK site, whose patients are emailed.
_DEMO_CHANNELS = {
    "KR": [("both", 0.45), ("sms", 0.2), ("email", 0.35)],
    "JP": [("both", 0.35), ("sms", 0.15), ("email", 0.5)],
    "US": [("both", 0.2), ("email", 0.8)],
}


def _demo_contact(site: Site, registry_id: str) -> tuple[str, str]:
    """A patient's contact channel and mobile number, from a random stream of their own (seeded by the registry
    ID), so that the rest of the seed stays what it was."""
    options = _DEMO_CHANNELS.get(site.country)
    if not options:
        return "email", ""
    rng = random.Random(f"contact:{registry_id}")
    channel = str(_weighted(rng, options))
    if site.country == "KR":
        mobile = f"+8210{rng.randint(0, 9999):08d}"
    elif site.country == "JP":
        mobile = f"+8190{rng.randint(10000000, 99999999)}"
    else:
        mobile = f"+1201555{rng.randint(100, 199):04d}"
    return channel, mobile


# Patients treated 60 to 110 days before the demo's date (their 3-month window is open) have not yet given
# registry consent: their first message opens on the site's consent document (registry.demo_consent). Decided
# without the seed's random stream, so the rest of the seed stays what it was.
_CONSENT_PENDING_DAYS = (60, 110)


def _consent_pending(index: date, as_of: date, withdrawn: date | None) -> bool:
    low, high = _CONSENT_PENDING_DAYS
    return withdrawn is None and low <= (as_of - index).days <= high


def _weighted(rng: random.Random, options: list[tuple[object, float]]) -> object:
    values, weights = zip(*options, strict=True)
    return rng.choices(values, weights=weights, k=1)[0]


def _site_rows(count: int) -> list[tuple[str, str, str, str]]:
    rows = list(DEMO_SITES[:count])
    for n in range(len(rows) + 1, count + 1):
        rows.append((f"S{n:03d}", f"Demo Site {n}", "UTC", ""))
    return rows


def ensure_sites(count: int) -> list[Site]:
    sites = []
    for code, name, tz, country in _site_rows(count):
        site, _ = Site.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "time_zone": tz,
                "country": country,
                "contact_email": f"followup@{code.lower()}.example.test",
                "contact_phone": "+1 555 0100",
            },
        )
        sites.append(site)
    return sites


def ensure_protocols(site: Site) -> list[Protocol]:
    specs = [
        ("BMAC-KNEE", "Autologous BMAC for knee OA, KL 2-3", Protocol.Regulator.KR_NHT),
        ("ADSC-JOINT", "Adipose-derived cells for knee and hip OA", Protocol.Regulator.JP_ASRM),
        ("PRP-STD", "Leukocyte-poor PRP, series of injections", Protocol.Regulator.ETHICS),
    ]
    out = []
    for code, name, regulator in specs:
        protocol, _ = Protocol.objects.get_or_create(
            site=site,
            code=code,
            version="1",
            defaults={"name": name, "regulator": regulator, "regulator_reference": f"{site.code}-{code}-001"},
        )
        out.append(protocol)
    return out


def _chunks(total: int, size: int) -> Iterator[int]:
    start = 0
    while start < total:
        yield min(size, total - start)
        start += size


def reserve_ids(model: type[models.Model], count: int) -> list[int]:
    """Reserve `count` primary keys from the table's sequence, so rows can be COPYed with their ids known."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            [model._meta.db_table, count],
        )
        return [row[0] for row in cursor.fetchall()]


def _copy(table: str, columns: Sequence[str], rows: Iterator[tuple] | list[tuple]) -> None:
    quoted = ", ".join(connection.ops.quote_name(c) for c in columns)
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {connection.ops.quote_name(table)} ({quoted}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(row)


def _value(field_: models.Field, obj: models.Model) -> object:
    value = getattr(obj, field_.attname)
    if isinstance(field_, models.JSONField):
        return json.dumps(value)
    return value


def insert_rows(model: type[models.Model], attnames: Sequence[str], rows: list[tuple]) -> None:
    """Insert rows given as tuples of `attnames` values, for a model without history whose ids nobody needs
    back: COPY on PostgreSQL (the table's sequence gives the ids), bulk_create elsewhere. Millions of rows
    skip the cost of building a model instance each (most of a large seed's time)."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        model.objects.bulk_create([model(**dict(zip(attnames, row, strict=True))) for row in rows], batch_size=2000)
        return
    fields = {f.attname: f for f in model._meta.concrete_fields}
    _copy(model._meta.db_table, [fields[name].column for name in attnames], rows)


def bulk_insert(
    objs: list[models.Model],
    model: type[models.Model],
    *,
    history: bool = True,
    reason: str = SEED_REASON,
    keep_ids: bool = False,
) -> list[models.Model]:
    """Insert new rows (and, for audited models, one "created" history row each) as fast as the database allows.

    On PostgreSQL: ids reserved from the sequence, then COPY for the rows and their history rows: about ten
    times faster than bulk_create, whose per-value preparation dominates at scale. Elsewhere (the SQLite demo):
    bulk_create, with simple-history's bulk helper for audited models. The audit trail is the same either way.
    """
    if not objs:
        return objs
    if connection.vendor != "postgresql":
        if history:
            return bulk_create_with_history(objs, model, batch_size=1000, default_change_reason=reason)
        return model.objects.bulk_create(objs, batch_size=2000)
    now = datetime.now(tz=UTC)
    fields = list(model._meta.concrete_fields)
    auto = [f for f in fields if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)]
    serial = isinstance(model._meta.pk, models.AutoField | models.BigAutoField)
    ids = reserve_ids(model, len(objs)) if serial and not keep_ids else [o.pk for o in objs]
    for obj, pk in zip(objs, ids, strict=True):
        obj.pk = pk
        for f in auto:
            if getattr(obj, f.attname) is None or getattr(f, "auto_now", False):
                setattr(obj, f.attname, now)
        obj._state.adding, obj._state.db = False, "default"
    _copy(model._meta.db_table, [f.column for f in fields], ([_value(f, o) for f in fields] for o in objs))
    if history:
        hist = model.history.model
        own = {f.attname: f for f in fields}
        copied = [f for f in hist._meta.concrete_fields if f.attname in own]
        columns = [f.column for f in copied] + ["history_date", "history_change_reason", "history_type"]
        tail = [now, reason, "+"]
        _copy(hist._meta.db_table, columns, ([_value(own[f.attname], o) for f in copied] + tail for o in objs))
    return objs


DEFER_INDEXES_FROM = 5000  # patients; below this, maintaining the indexes row by row costs less than rebuilding


def _deferrable(table: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The unique and foreign-key constraints of `table`, and its other non-primary, non-partial indexes: (name,
    definition) each, the definition as PostgreSQL gives it back (ADD CONSTRAINT ..., CREATE INDEX ...)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = %s::regclass AND contype IN ('u', 'f') ORDER BY contype DESC, conname",
            [table],
        )
        constraints = cursor.fetchall()
        cursor.execute(
            "SELECT x.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i JOIN pg_class x ON x.oid = i.indexrelid "
            # Partial indexes stay: PostgreSQL gives their predicate back in a form that recreates an equal but
            # differently written index; they are small, and maintained as rows arrive.
            "WHERE i.indrelid = %s::regclass AND NOT i.indisprimary AND i.indpred IS NULL "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid) ORDER BY x.relname",
            [table],
        )
        indexes = cursor.fetchall()
    return constraints, indexes


@contextmanager
def indexes_built_once(tables: Sequence[str]) -> Iterator[None]:
    """For a bulk load into empty tables (PostgreSQL): drop their secondary indexes, unique constraints and
    foreign keys, load, then build each index in one pass and validate each constraint in one pass, instead of
    maintaining them row by row. Runs in one transaction: if anything fails, the load and the DDL roll back
    together and the schema is as it was."""
    qn = connection.ops.quote_name
    with transaction.atomic():
        saved = {table: _deferrable(table) for table in tables}
        with connection.cursor() as cursor:
            for table, (constraints, indexes) in saved.items():
                for name, _definition in constraints:
                    cursor.execute(f"ALTER TABLE {qn(table)} DROP CONSTRAINT {qn(name)}")
                for name, _definition in indexes:
                    cursor.execute(f"DROP INDEX {qn(name)}")
        yield
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")  # index builds sort in memory
            for table, (constraints, indexes) in saved.items():
                for _name, definition in indexes:
                    cursor.execute(definition)
                for name, definition in sorted(constraints, key=lambda c: c[1].startswith("FOREIGN KEY")):
                    cursor.execute(f"ALTER TABLE {qn(table)} ADD CONSTRAINT {qn(name)} {definition}")
                cursor.execute(f"ANALYZE {qn(table)}")


def _tables_empty(tables: Sequence[str]) -> bool:
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {qn(table)})")  # noqa: S608 (a table name of ours)
            if cursor.fetchone()[0]:
                return False
    return True


def seed_demo(
    *,
    patients: int,
    seed: int,
    sites: int,
    as_of: date,
    chunk_size: int = 5000,
    defer_indexes: bool | None = None,
    extras: SeedExtras | None = None,
) -> SeedReport:
    """Create `patients` synthetic patients spread over `sites` demo sites. Idempotent: a site that already
    holds patients is left alone, so running the demo twice duplicates nothing.

    `defer_indexes` (default: on PostgreSQL, from DEFER_INDEXES_FROM patients, when the bulk tables are empty)
    loads the whole seed in one transaction with the big tables' indexes built once at the end."""
    extras = extras or SeedExtras()
    run = {"patients": patients, "seed": seed, "sites": sites, "as_of": as_of, "chunk_size": chunk_size}
    if defer_indexes is None:
        defer_indexes = patients >= DEFER_INDEXES_FROM
    tables = extras.bulk_tables
    if defer_indexes and tables and connection.vendor == "postgresql" and _tables_empty(tables):
        with indexes_built_once(tables):
            return _seed_demo(**run, extras=extras)
    return _seed_demo(**run, extras=extras)


def _seed_demo(
    *, patients: int, seed: int, sites: int, as_of: date, chunk_size: int, extras: SeedExtras
) -> SeedReport:
    if patients < 1:
        raise SeedError("--patients must be at least 1.")
    if not 1 <= sites <= 50:
        raise SeedError("--sites must be between 1 and 50.")
    if patients < sites:
        raise SeedError(f"--patients ({patients}) must be at least --sites ({sites}).")
    report = SeedReport()
    site_objs = ensure_sites(sites)
    report.sites = len(site_objs)
    if extras.sites_ready is not None:
        extras.sites_ready(site_objs)
    rng = random.Random(seed)
    per_site = [patients // sites + (1 if i < patients % sites else 0) for i in range(sites)]
    for site, count in zip(site_objs, per_site, strict=True):
        protocols = ensure_protocols(site)
        report.protocols += len(protocols)
        if Patient.objects.filter(site=site).exists():
            report.skipped_sites.append(site.code)
            continue
        site_rng = random.Random(f"{seed}:{site.code}")
        for n in _chunks(count, chunk_size):
            with transaction.atomic():
                _seed_chunk(site_rng, site, protocols, n, as_of, report, extras)
    del rng
    return report


def _seed_chunk(
    rng: random.Random,
    site: Site,
    protocols: list[Protocol],
    count: int,
    as_of: date,
    report: SeedReport,
    extras: SeedExtras,
) -> None:
    patients: list[Patient] = []
    identities: list[PatientIdentity] = []
    plans: list[tuple[date, date]] = []  # (date of birth, first index date) per patient
    for _ in range(count):
        sex = _weighted(rng, [(Sex.FEMALE, 0.6), (Sex.MALE, 0.39), (Sex.OTHER, 0.01)])
        # Index dates over the last 30 months, so every timepoint up to 24 months has someone due.
        index = as_of - timedelta(days=rng.randint(0, 900))
        age = max(35, min(92, round(rng.gauss(62, 10))))
        dob = index - timedelta(days=age * 365 + rng.randint(0, 364))
        consent = index - timedelta(days=rng.randint(3, 45))
        withdrawn = None
        if rng.random() < 0.03:
            withdrawn = min(as_of, index + timedelta(days=rng.randint(30, 400)))
        patient = Patient(
            site=site,
            sex=sex,
            consent_version="2.1",
            consent_date=consent,
            consent_research=rng.random() < 0.97,
            consent_email=rng.random() < 0.9,
            withdrawn_on=withdrawn,
            withdrawal_reason="Moved away" if withdrawn else "",
        )
        patient.registry_id = "R-" + "".join(rng.choice("0123456789ABCDEFGHJKMNPQRSTVWXYZ") for _ in range(10))
        patient.contact_channel, mobile = _demo_contact(site, patient.registry_id)
        if _consent_pending(index, as_of, withdrawn):
            # Registered at treatment, asked for registry consent by their first follow-up message.
            patient.consent_version, patient.consent_date = "", None
            patient.consent_follow_up = patient.consent_research = False
            patient.consent_email = True
        patients.append(patient)
        given = rng.choice(_GIVEN_F if sex == Sex.FEMALE else _GIVEN_M)
        family = rng.choice(_FAMILY)
        identities.append(
            PatientIdentity(
                given_name=given,
                family_name=family,
                date_of_birth=dob,
                email=f"{given.lower()}.{family.lower()}.{rng.randint(1000, 999999)}@example.test",
                phone=f"+1 555 01{rng.randint(0, 99):02d} {rng.randint(1000, 9999)}",
                mobile=mobile,
                medical_record_number=f"{site.code}{rng.randint(100000, 999999)}",
                preferred_language=_demo_language(site, patient.registry_id),
            )
        )
        plans.append((dob, index))
    patients = bulk_insert(patients, Patient)
    for patient, identity in zip(patients, identities, strict=True):
        identity.patient = patient
    bulk_insert(identities, PatientIdentity)
    report.patients += len(patients)

    episodes: list[TreatmentEpisode] = []
    for patient, (_dob, index) in zip(patients, plans, strict=True):
        joint = _weighted(rng, [(Joint.KNEE, 0.65), (Joint.HIP, 0.2), (Joint.SPINE, 0.15)])
        first = _episode(rng, patient, protocols, joint, index)
        episodes.append(first)
        roll = rng.random()
        if joint != Joint.SPINE and roll < 0.35:
            # Bilateral: same joint, other side, same day: two episodes with their own follow-up.
            other = _episode(rng, patient, protocols, joint, index)
            other.side = Side.LEFT if first.side == Side.RIGHT else Side.RIGHT
            other.kl_grade = max(0, min(4, (first.kl_grade or 2) + rng.choice([-1, 0, 0, 1])))
            episodes.append(other)
        elif roll < 0.5:
            later = index + timedelta(days=rng.randint(60, 300))
            if later <= as_of:
                second_joint = Joint.KNEE if joint != Joint.KNEE else Joint.HIP
                episodes.append(_episode(rng, patient, protocols, second_joint, later))
    administrations: list[Administration] = []
    adverse: list[AdverseEvent] = []
    surgeries: list[SubsequentSurgery] = []
    for episode in episodes:
        product = _weighted(
            rng,
            [
                (ProductType.BMAC, 0.25),
                (ProductType.SVF, 0.12),
                (ProductType.CULTURED_MSC, 0.10),
                (ProductType.ALLOGENEIC_MSC, 0.10),
                (ProductType.PRP, 0.28),
                (ProductType.HA, 0.12),
                (ProductType.STEROID, 0.03),
            ],
        )
        injections = 1
        if product in (ProductType.PRP, ProductType.HA):
            injections = rng.choice([1, 2, 3])
        elif rng.random() < 0.25:
            injections = 2  # a repeat injection 3-6 months later
        day = episode.index_date
        for k in range(injections):
            if k:
                day = day + timedelta(
                    days=rng.randint(7, 21) if product in (ProductType.PRP, ProductType.HA) else rng.randint(90, 180)
                )
                if day > as_of:
                    break
            administrations.append(_administration(rng, episode, product, day))
        if rng.random() < 0.12:
            adverse.append(_adverse_event(rng, episode, product, as_of))
        surgery = _surgery(rng, episode, as_of)
        if surgery:
            surgeries.append(surgery)
    # The episodes carry a copy of their first administration (registry.services keeps it after seeding); the
    # administrations are listed in date order within each episode, so the first listed is the first given.
    for a in reversed(administrations):
        a.episode.first_product_type = a.product_type
        a.episode.first_source = a.source
        a.episode.first_cell_dose_millions = a.cell_dose_millions
    inserted = bulk_insert(episodes, TreatmentEpisode)
    for episode, saved in zip(episodes, inserted, strict=True):
        episode.pk = saved.pk
    report.episodes += len(episodes)
    for row in (*administrations, *adverse, *surgeries):
        row.episode = row.episode  # the episode has its id now
    bulk_insert(administrations, Administration)
    bulk_insert(adverse, AdverseEvent)
    bulk_insert(surgeries, SubsequentSurgery)
    report.administrations += len(administrations)
    report.adverse_events += len(adverse)
    report.surgeries += len(surgeries)

    if extras.chunk_seeded is not None:
        first_product = {}
        for a in administrations:
            first_product.setdefault(a.episode_id, a.product_type)
        counts = extras.chunk_seeded(rng, episodes, first_product, as_of)
        report.follow_ups += counts.get("follow_ups", 0)
        report.responses += counts.get("responses", 0)
        report.scores += counts.get("scores", 0)


def _episode(
    rng: random.Random, patient: Patient, protocols: list[Protocol], joint: str, index: date
) -> TreatmentEpisode:
    spine = joint == Joint.SPINE
    return TreatmentEpisode(
        patient=patient,
        protocol=rng.choice(protocols) if rng.random() < 0.8 else None,
        joint=joint,
        side=Side.MIDLINE if spine else rng.choice([Side.LEFT, Side.RIGHT]),
        spinal_level=rng.choice(["L3-L4", "L4-L5", "L5-S1"]) if spine else "",
        diagnosis=Diagnosis.DEGENERATIVE_DISC
        if spine
        else _weighted(
            rng, [(Diagnosis.PRIMARY_OA, 0.85), (Diagnosis.POST_TRAUMATIC_OA, 0.1), (Diagnosis.CARTILAGE_DEFECT, 0.05)]
        ),
        kl_grade=None if spine else _weighted(rng, [(0, 0.02), (1, 0.1), (2, 0.4), (3, 0.38), (4, 0.1)]),
        index_date=index,
        bmi=Decimal(str(round(max(18.0, min(45.0, rng.gauss(27.0, 4.0))), 1))),
        prior_nsaids=rng.random() < 0.8,
        prior_physiotherapy=rng.random() < 0.6,
        prior_steroid_injection=rng.random() < 0.4,
        prior_ha_injection=rng.random() < 0.3,
        prior_prp_injection=rng.random() < 0.15,
        prior_surgery=rng.random() < 0.1,
    )


def _administration(rng: random.Random, episode: TreatmentEpisode, product: str, day: date) -> Administration:
    spine = episode.joint == Joint.SPINE
    a = Administration(
        episode=episode, administered_on=day, product_type=product, source=Administration.Source.AUTOLOGOUS
    )
    a.route = (
        rng.choice([Administration.Route.INTRADISCAL, Administration.Route.EPIDURAL])
        if spine
        else Administration.Route.INTRA_ARTICULAR
    )
    a.image_guidance = (
        Administration.Guidance.FLUOROSCOPY
        if spine or episode.joint == Joint.HIP and rng.random() < 0.5
        else rng.choice(
            [Administration.Guidance.ULTRASOUND, Administration.Guidance.ULTRASOUND, Administration.Guidance.NONE]
        )
    )
    a.volume_ml = Decimal(str(round(rng.uniform(1, 3) if spine else rng.uniform(3, 8), 1)))
    a.operator = rng.choice(["Dr A", "Dr B", "Dr C"])
    a.adjunct_rehabilitation = rng.random() < 0.5
    cells = {  # million cells, in the ranges of DOMAIN.md
        ProductType.BMAC: (15, 50),
        ProductType.SVF: (15, 50),
        ProductType.CULTURED_MSC: (20, 100),
        ProductType.ALLOGENEIC_MSC: (20, 50),
    }
    if product in cells:
        low, high = cells[product]
        if spine:
            low, high = 20, 50
        a.cell_dose_millions = Decimal(str(round(rng.uniform(low, high), 1)))
        a.viability_pct = Decimal(str(round(rng.uniform(75, 98), 1)))
    if product == ProductType.BMAC:
        a.tissue, a.harvest_site = Administration.Tissue.BONE_MARROW, Administration.HarvestSite.ILIAC_POSTERIOR
        a.harvest_volume_ml = Decimal(str(rng.choice([30, 60, 60, 90])))
        a.processing, a.device_kit, a.centrifuge_spins = Administration.Processing.POINT_OF_CARE, "Demo BMAC kit", 2
    elif product == ProductType.SVF:
        a.tissue, a.harvest_site = (
            Administration.Tissue.ADIPOSE,
            rng.choice([Administration.HarvestSite.ABDOMEN, Administration.HarvestSite.FLANK]),
        )
        a.harvest_volume_ml = Decimal(str(rng.choice([50, 100, 150])))
        a.processing = rng.choice([Administration.Processing.ENZYMATIC, Administration.Processing.MECHANICAL])
    elif product == ProductType.CULTURED_MSC:
        a.tissue, a.harvest_site = Administration.Tissue.ADIPOSE, Administration.HarvestSite.ABDOMEN
        a.harvest_volume_ml = Decimal("20")
        a.processing = Administration.Processing.CULTURE_EXPANDED
    elif product == ProductType.ALLOGENEIC_MSC:
        a.source = Administration.Source.ALLOGENEIC
        a.tissue, a.harvest_site = Administration.Tissue.UMBILICAL_CORD, Administration.HarvestSite.DONOR
        a.processing, a.product_name = Administration.Processing.MANUFACTURED, "Demo cord MSC product"
    elif product == ProductType.PRP:
        a.tissue, a.harvest_site = Administration.Tissue.PERIPHERAL_BLOOD, Administration.HarvestSite.VENOUS
        a.harvest_volume_ml = Decimal(str(rng.choice([15, 30, 60])))
        a.processing, a.device_kit, a.centrifuge_spins = Administration.Processing.POINT_OF_CARE, "Demo PRP kit", 1
        a.platelet_concentration = rng.randint(600, 1500)
        a.leukocytes = rng.choice(
            [Administration.Leukocytes.POOR, Administration.Leukocytes.POOR, Administration.Leukocytes.RICH]
        )
        a.activation = Administration.Activation.NONE
    else:
        a.source = Administration.Source.NOT_APPLICABLE
    return a


def _adverse_event(rng: random.Random, episode: TreatmentEpisode, product: str, as_of: date) -> AdverseEvent:
    kinds = [
        (AdverseEvent.Type.INJECTION_SITE_PAIN, 0.45),
        (AdverseEvent.Type.EFFUSION, 0.35),
        (AdverseEvent.Type.INFECTION, 0.02),
        (AdverseEvent.Type.OTHER, 0.05),
    ]
    if product in (ProductType.BMAC, ProductType.SVF, ProductType.CULTURED_MSC):
        kinds.append((AdverseEvent.Type.HARVEST_SITE, 0.2))
    if product == ProductType.ALLOGENEIC_MSC:
        kinds.append((AdverseEvent.Type.IMMUNE, 0.15))
    kind = _weighted(rng, kinds)
    grade = 3 if kind == AdverseEvent.Type.INFECTION else _weighted(rng, [(1, 0.7), (2, 0.27), (3, 0.03)])
    onset = min(as_of, episode.index_date + timedelta(days=rng.randint(0, 14)))
    resolved = onset + timedelta(days=rng.randint(1, 30))
    return AdverseEvent(
        episode=episode,
        onset_date=onset,
        event_type=kind,
        grade=grade,
        serious=grade >= 3,
        relatedness=_weighted(
            rng,
            [
                (AdverseEvent.Relatedness.PROBABLE, 0.5),
                (AdverseEvent.Relatedness.POSSIBLE, 0.3),
                (AdverseEvent.Relatedness.DEFINITE, 0.15),
                (AdverseEvent.Relatedness.UNLIKELY, 0.05),
            ],
        ),
        outcome=AdverseEvent.Outcome.RECOVERED if resolved <= as_of else AdverseEvent.Outcome.RECOVERING,
        resolution_date=resolved if resolved <= as_of else None,
    )


def _surgery(rng: random.Random, episode: TreatmentEpisode, as_of: date) -> SubsequentSurgery | None:
    # Two-year probability of a later arthroplasty rises with the KL grade (plausible, not a published figure).
    risk = {0: 0.01, 1: 0.02, 2: 0.05, 3: 0.12, 4: 0.3}.get(
        episode.kl_grade if episode.kl_grade is not None else -1, 0.03
    )
    if rng.random() >= risk:
        if rng.random() < 0.02 and episode.joint != Joint.SPINE:
            day = episode.index_date + timedelta(days=rng.randint(60, 700))
            if day <= as_of:
                return SubsequentSurgery(
                    episode=episode, surgery_date=day, surgery_type=SubsequentSurgery.Type.ARTHROSCOPY
                )
        return None
    day = episode.index_date + timedelta(days=rng.randint(90, 730))
    if day > as_of:
        return None
    if episode.joint == Joint.SPINE:
        kind = SubsequentSurgery.Type.SPINAL_FUSION
    elif episode.joint == Joint.KNEE and rng.random() < 0.15:
        kind = SubsequentSurgery.Type.PARTIAL_ARTHROPLASTY
    else:
        kind = SubsequentSurgery.Type.TOTAL_ARTHROPLASTY
    return SubsequentSurgery(episode=episode, surgery_date=day, surgery_type=kind)
