"""Named personas shared by the whole suite: alice coordinates site A, bob site B, charlie administers the
registry. Patients `patient_a` and `patient_b` belong to A and B."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine
from django.contrib.auth.models import User
from django.test import Client

from tests import factories


def suite_clock_anchor(real: datetime) -> datetime:
    """Where the suite's clock starts: 00:00 UTC of the real day.

    Every test, fixture and module constant reads the same "today" (a run never reaches the next midnight), and
    the time of day is the same in every run: 00:00 in a site on UTC (its texts wait for quiet hours to end, so a
    test that sends one says when), 09:00 in Seoul and Tokyo, 08:00 in Shanghai. The anchor is never ahead of the
    real clock, which a subprocess (a Celery worker, the demo) runs on, and is on the same date. A test that needs
    another moment travels from here with time_machine."""
    return real.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


_SUITE_CLOCK: list = []


def pytest_configure(config):
    traveller = time_machine.travel(suite_clock_anchor(datetime.now(tz=UTC)), tick=True)
    traveller.start()
    _SUITE_CLOCK.append(traveller)


def pytest_unconfigure(config):
    while _SUITE_CLOCK:
        _SUITE_CLOCK.pop().stop()


@pytest.fixture(autouse=True)
def _empty_text_outbox():
    """Every test starts with no text messages sent, as Django's test setup empties mail.outbox."""
    from outcomes import texting

    texting.outbox.clear()
    yield
    texting.outbox.clear()


@pytest.fixture
def site_a(db):
    return factories.SiteFactory(code="SITEA", name="Site A clinic")


@pytest.fixture
def site_b(db):
    return factories.SiteFactory(code="SITEB", name="Site B clinic")


@pytest.fixture
def alice(site_a) -> User:
    return factories.staff_user("alice", site_a)


@pytest.fixture
def bob(site_b) -> User:
    return factories.staff_user("bob", site_b)


@pytest.fixture
def charlie(db) -> User:
    return factories.UserFactory(username="charlie", is_staff=True, is_superuser=True)


@pytest.fixture
def patient_a(site_a):
    return factories.PatientFactory(site=site_a, identity__given_name="Amelia", identity__family_name="Aardvark")


@pytest.fixture
def patient_b(site_b):
    return factories.PatientFactory(site=site_b, identity__given_name="Bertha", identity__family_name="Bandicoot")


def login(client: Client, user: User) -> Client:
    client.force_login(user)
    return client


@pytest.fixture
def alice_client(client, alice) -> Client:
    return login(client, alice)


@pytest.fixture
def charlie_client(client, charlie) -> Client:
    return login(client, charlie)


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Rate-limit counters live in the cache; every test starts with none."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _registry_language():
    """LocaleMiddleware activates each request's language in the thread and leaves it there (the next request
    activates its own); a test that asked in Korean must not leave Korean to the next test's code outside requests."""
    from django.utils import translation

    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _default_plans(request):
    """Transactional tests flush every table, rows of data migrations included: put the default plans back."""
    marker = request.node.get_closest_marker("django_db")
    if marker is not None:
        request.getfixturevalue("transactional_db" if marker.kwargs.get("transaction") else "db")
    elif not {"db", "transactional_db"} & set(request.fixturenames):
        return
    from outcomes.defaults import ensure_default_plans
    from outcomes.models import OutcomePlan, OutcomePlanItem

    ensure_default_plans(OutcomePlan, OutcomePlanItem)
