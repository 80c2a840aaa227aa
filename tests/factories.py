"""factory-boy factories for synthetic test data. Nothing here is real."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import factory
from django.contrib.auth.models import User

from registry import roles
from registry.models import (
    Administration,
    AdverseEvent,
    Membership,
    Patient,
    PatientIdentity,
    Protocol,
    Site,
    SubsequentSurgery,
    TreatmentEpisode,
)


class SiteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Site
        django_get_or_create = ["code"]
        skip_postgeneration_save = True

    code = factory.Sequence(lambda n: f"S{n:03d}")
    name = factory.LazyAttribute(lambda o: f"Clinic {o.code}")
    contact_email = factory.LazyAttribute(lambda o: f"followup@{o.code.lower()}.example.test")

    @factory.post_generation
    def wording(self, create: bool, extracted: bool | None, **kwargs: object) -> None:
        """A site in tests has patient wording for every instrument (the demo's), as a working site would;
        `SiteFactory(wording=False)` is one that has loaded none."""
        if create and extracted is not False:
            from outcomes.demo import demo_wording_load

            demo_wording_load(sites=[self])


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ["username"]
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.test")
    password = factory.django.Password("a-long-test-password")


def staff_user(username: str, site: Site, role: str = Membership.Role.COORDINATOR) -> User:
    user = UserFactory(username=username)
    Membership.objects.create(user=user, site=site, role=role)
    roles.membership_sync_user(user=user)
    return user


class PatientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Patient
        skip_postgeneration_save = True

    site = factory.SubFactory(SiteFactory)
    sex = "female"
    consent_version = "2.1"
    consent_date = factory.LazyFunction(lambda: date.today() - timedelta(days=400))
    identity = factory.RelatedFactory("tests.factories.IdentityFactory", factory_related_name="patient")


class IdentityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PatientIdentity

    patient = factory.SubFactory(PatientFactory, identity=None)
    given_name = factory.Sequence(lambda n: f"Given{n}")
    family_name = factory.Sequence(lambda n: f"Family{n}")
    date_of_birth = date(1958, 4, 12)
    email = factory.LazyAttribute(lambda o: f"{o.given_name.lower()}@example.test")
    phone = factory.Sequence(lambda n: f"+1 555 0100 {n:04d}")


class ProtocolFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Protocol

    site = factory.SubFactory(SiteFactory)
    code = factory.Sequence(lambda n: f"P{n}")
    name = "Test protocol"
    regulator = Protocol.Regulator.ETHICS


class EpisodeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TreatmentEpisode

    patient = factory.SubFactory(PatientFactory)
    joint = "knee"
    side = "right"
    kl_grade = 2
    index_date = factory.LazyFunction(lambda: date.today() - timedelta(days=380))
    bmi = Decimal("27.5")


class AdministrationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Administration

    episode = factory.SubFactory(EpisodeFactory)
    administered_on = factory.LazyAttribute(lambda o: o.episode.index_date)
    product_type = "bmac"
    source = "autologous"
    tissue = "bone_marrow"
    harvest_site = "iliac_posterior"
    cell_dose_millions = Decimal("30.0")
    viability_pct = Decimal("92.0")
    volume_ml = Decimal("5.0")


class AdverseEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AdverseEvent

    episode = factory.SubFactory(EpisodeFactory)
    onset_date = factory.LazyAttribute(lambda o: o.episode.index_date + timedelta(days=2))
    event_type = "effusion"
    grade = 1
    relatedness = "probable"


class SurgeryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SubsequentSurgery

    episode = factory.SubFactory(EpisodeFactory)
    surgery_date = factory.LazyAttribute(lambda o: o.episode.index_date + timedelta(days=300))
    surgery_type = "total_arthroplasty"
