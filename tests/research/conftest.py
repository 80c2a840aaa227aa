"""Research API fixtures: keys scoped to sites, a client that sends them, and a small cohort with distinctive
identifying values (so a leak would be found by a plain substring search)."""

from __future__ import annotations

import csv
import io
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

import scoring
from outcomes.models import FollowUp, Response, Score
from registry.models import Patient, ReleasePolicy, TreatmentEpisode
from research.services import api_key_create
from tests import factories

TODAY = date.today()


class ApiClient:
    """GETs with `Authorization: Token <key>`; `.json()` and `.csv()` return parsed bodies."""

    def __init__(self, client: Client, raw_key: str | None) -> None:
        self.client = client
        self.raw_key = raw_key

    def get(self, path: str, **params: Any) -> Any:
        headers = {"Authorization": f"Token {self.raw_key}"} if self.raw_key else {}
        return self.client.get(path, params, headers=headers)

    def json(self, path: str, **params: Any) -> Any:
        response = self.get(path, **params)
        assert response.status_code == 200, (response.status_code, response.content[:500])
        return response.json()

    def all_pages(self, path: str, **params: Any) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        response = self.get(path, **params)
        while True:
            assert response.status_code == 200, response.content[:500]
            body = response.json()
            rows += body["results"]
            if not body["next"]:
                return rows
            response = self.client.get(body["next"], headers={"Authorization": f"Token {self.raw_key}"})

    def csv_text(self, path: str, **params: Any) -> str:
        response = self.get(path, format="csv", **params)
        assert response.status_code == 200, response.content[:500]
        assert response.streaming
        assert response["Content-Type"].startswith("text/csv")
        return b"".join(response.streaming_content).decode()

    def csv(self, path: str, **params: Any) -> list[dict[str, str]]:
        return list(csv.DictReader(io.StringIO(self.csv_text(path, **params))))

    def labelled_text(self, path: str, fmt: str, **params: Any) -> str:
        """A .sav or .dta export as text: every value, name, label and value label read back with pyreadstat,
        and the raw bytes (for a search that must find whatever the file holds)."""
        import pyreadstat

        response = self.get(path, format=fmt, **params)
        assert response.status_code == 200, response.content[:500]
        body = b"".join(response.streaming_content)
        with tempfile.NamedTemporaryFile(suffix=f".{fmt}") as file:
            file.write(body)
            file.flush()
            frame, meta = (pyreadstat.read_sav if fmt == "sav" else pyreadstat.read_dta)(file.name)
        parts = [
            frame.to_csv(index=False),
            repr(meta.column_names_to_labels),
            repr(meta.variable_value_labels),
            repr(meta.file_label),
            repr(getattr(meta, "notes", None)),
            body.decode("latin-1"),
        ]
        return "\n".join(parts)


def release_at_small_k(*sites: Any, k: int = 2) -> None:
    """The test cohorts hold a few subjects a site: under the default k=5 every site would be withheld from the
    row datasets (research/kanon.py), so the sites the test keys read release at k=2, the smallest k a policy
    allows. The k-anonymity tests set the policies they test."""
    for site in sites:
        ReleasePolicy.objects.update_or_create(site=site, defaults={"k": k})


def second_subject(site: Any, **episode: Any) -> TreatmentEpisode:
    """Another subject, with a knee treatment, at `site`: a site's rows are released only once it holds k subjects
    (k=2 for the test keys, release_at_small_k), so a test about one patient's rows gives the site a second."""
    return make_episode(make_patient(site, given_name="Second", family_name="Subject"), **episode)


@pytest.fixture
def key_a(site_a) -> str:
    release_at_small_k(site_a)
    return api_key_create(name="Study at A", sites=[site_a], tier="rows")[1]


@pytest.fixture
def key_ab(site_a, site_b) -> str:
    release_at_small_k(site_a, site_b)
    return api_key_create(name="Study at A and B", sites=[site_a, site_b], tier="rows")[1]


@pytest.fixture
def api_a(client, key_a) -> ApiClient:
    return ApiClient(client, key_a)


@pytest.fixture
def api_ab(client, key_ab) -> ApiClient:
    return ApiClient(client, key_ab)


# Building data -------------------------------------------------------------------------------------------


def make_patient(site: Any, **identity: Any) -> Patient:
    extra = {f"identity__{k}": v for k, v in identity.items() if k not in ("sex", "consent_research", "withdrawn_on")}
    patient = factories.PatientFactory(site=site, sex=identity.get("sex", "female"), **extra)
    if "consent_research" in identity or "withdrawn_on" in identity:
        patient.consent_research = identity.get("consent_research", True)
        patient.withdrawn_on = identity.get("withdrawn_on")
        patient.withdrawal_reason = "moved away" if patient.withdrawn_on else ""
        patient.save()
    return patient


def make_episode(
    patient: Patient,
    *,
    joint: str = "knee",
    side: str = "right",
    kl_grade: int | None = 2,
    product: str = "bmac",
    dose: Decimal | None = Decimal("30.0"),
    index_days_ago: int = 800,
    bmi: Decimal | None = Decimal("27.5"),
    administrations: int = 1,
) -> TreatmentEpisode:
    index = TODAY - timedelta(days=index_days_ago)
    episode = factories.EpisodeFactory(
        patient=patient, joint=joint, side=side, kl_grade=kl_grade, index_date=index, bmi=bmi
    )
    source = {"allogeneic_msc": "allogeneic", "ha": "na", "steroid": "na"}.get(product, "autologous")
    for n in range(administrations):
        factories.AdministrationFactory(
            episode=episode,
            administered_on=index + timedelta(days=120 * n),
            product_type=product if n == 0 else "prp",
            source=source if n == 0 else "autologous",
            cell_dose_millions=dose if n == 0 else None,
            viability_pct=Decimal("90.0") if dose is not None else None,
            tissue="bone_marrow" if product == "bmac" else "none",
            harvest_site="iliac_posterior" if product == "bmac" else "none",
        )
    return episode


DAYS = {"baseline": -5, "m3": 90, "m6": 180, "m12": 365, "m24": 730}


def add_scores(
    episode: TreatmentEpisode, timepoint: str, instrument: str, values: dict[str, float | None], *, mode: str = "web"
) -> FollowUp:
    """Store scores as response_submit would, without answers (the scoring engine is tested elsewhere)."""
    follow_up = FollowUp.objects.get(episode=episode, timepoint=timepoint)
    day = DAYS[timepoint]
    response, _ = Response.objects.get_or_create(
        follow_up=follow_up,
        instrument=instrument,
        defaults={
            "answers": {},
            "instrument_version": scoring.get_instrument(instrument).version,
            "scoring_version": scoring.SCORING_VERSION,
            "entered_via": "patient_link",
            "mode": mode,
            "completed_at": datetime.combine(episode.index_date + timedelta(days=day), time(10), tzinfo=UTC),
        },
    )
    FollowUp.objects.filter(pk=follow_up.pk).update(days_from_index=day)
    Score.objects.bulk_create(
        Score.build(
            follow_up,
            response=response,
            instrument=instrument,
            key=key,
            value=value,
            scoring_version=scoring.SCORING_VERSION,
        )
        for key, value in values.items()
    )
    return follow_up


@dataclass
class Cohort:
    patients: list[Patient] = field(default_factory=list)
    episodes: list[TreatmentEpisode] = field(default_factory=list)
    excluded: list[Patient] = field(default_factory=list)  # no research consent, or withdrawn

    def identifying_values(self) -> list[str]:
        """Every identifying value and calendar date of the seeded patients, in the forms it might leak in."""
        values: list[str] = []
        for patient in [*self.patients, *self.excluded]:
            identity = patient.identity
            values += [
                identity.given_name,
                identity.family_name,
                identity.email,
                identity.phone,
                identity.medical_record_number,
                patient.registry_id,
            ]
            days = [identity.date_of_birth, patient.consent_date]
            for episode in patient.episodes.all():
                days.append(episode.index_date)
                days += [a.administered_on for a in episode.administrations.all()]
                days += [e.onset_date for e in episode.adverse_events.all()]
                days += [s.surgery_date for s in episode.surgeries.all()]
                days += [r.completed_at.date() for r in Response.objects.filter(follow_up__episode=episode)]
            for d in days:
                values += [d.isoformat(), d.strftime("%d/%m/%Y"), d.strftime("%m/%d/%Y"), d.strftime("%Y%m%d")]
        return [v for v in values if v]


@pytest.fixture
def cohort(site_a, site_b) -> Cohort:
    """Two sites; distinctive names, emails, phones, record numbers and birth dates; one patient over 90; one
    without research consent and one withdrawn (both excluded); knee, hip and spine episodes with scores at
    baseline and 12 months, an adverse event and an arthroplasty."""
    c = Cohort()
    people = [
        (site_a, "Zebediah", "Quackenbush", date(1931, 2, 3), "male"),  # over 90 at the index date
        (site_a, "Philippa", "Marchbanks", date(1960, 7, 19), "female"),
        (site_a, "Octavius", "Thistlewood", date(1955, 11, 30), "male"),
        (site_b, "Bartholomew", "Fennimore", date(1949, 5, 23), "male"),
        (site_b, "Wilhelmina", "Ravenscroft", date(1966, 9, 14), "female"),
    ]
    for n, (site, given, family, born, sex) in enumerate(people):
        patient = make_patient(
            site,
            given_name=given,
            family_name=family,
            date_of_birth=born,
            email=f"{given.lower()}.{family.lower()}@example.test",
            phone=f"+1 555 0142 {7000 + n}",
            medical_record_number=f"MRN{990000 + n}",
            sex=sex,
        )
        c.patients.append(patient)
    specs = [
        (0, {"joint": "knee", "side": "right", "kl_grade": 3, "product": "bmac", "dose": Decimal("42.5")}),
        (1, {"joint": "knee", "side": "left", "kl_grade": 2, "product": "prp", "dose": None, "administrations": 3}),
        (1, {"joint": "knee", "side": "right", "kl_grade": 2, "product": "prp", "dose": None}),
        (2, {"joint": "hip", "side": "left", "kl_grade": 4, "product": "allogeneic_msc", "dose": Decimal("25.0")}),
        (2, {"joint": "spine", "side": "midline", "kl_grade": None, "product": "svf", "dose": Decimal("20.0")}),
        (3, {"joint": "knee", "side": "right", "kl_grade": 2, "product": "bmac", "dose": Decimal("31.0")}),
        (4, {"joint": "hip", "side": "right", "kl_grade": 3, "product": "ha", "dose": None}),
    ]
    for who, spec in specs:
        episode = make_episode(c.patients[who], **spec)
        c.episodes.append(episode)
        if episode.joint == "knee":
            add_scores(episode, "baseline", "koos", {"pain": 50.0, "adl": 55.0, "qol": 37.5})
            add_scores(episode, "m12", "koos", {"pain": 72.22222222222223, "adl": 70.0, "qol": 50.0}, mode="phone")
        add_scores(episode, "baseline", "vas", {"vas_mm": 60.0})
        add_scores(episode, "m12", "vas", {"vas_mm": 30.5}, mode="paper")
    factories.AdverseEventFactory(episode=c.episodes[0], description="Swelling noticed by Zebediah at home")
    factories.SurgeryFactory(episode=c.episodes[3], surgery_type="total_arthroplasty")
    for site, given, family, flags in [
        (site_a, "Cornelius", "Nocontentia", {"consent_research": False}),
        (site_a, "Gwendolyn", "Withdrawnsby", {"withdrawn_on": TODAY - timedelta(days=10)}),
    ]:
        patient = make_patient(
            site, given_name=given, family_name=family, email=f"{given.lower()}@example.test", **flags
        )
        episode = make_episode(patient, kl_grade=2, product="bmac")
        add_scores(episode, "baseline", "koos", {"pain": 10.0})
        c.excluded.append(patient)
    return c


def subject_id(patient: Patient) -> str:
    from research.models import SubjectPseudonym
    from research.services import pseudonyms_assign

    pseudonyms_assign()
    return SubjectPseudonym.objects.get(patient=patient).pseudonym


def episode_id(episode: TreatmentEpisode) -> str:
    from research.models import EpisodePseudonym
    from research.services import pseudonyms_assign

    pseudonyms_assign()
    return EpisodePseudonym.objects.get(episode=episode).pseudonym
