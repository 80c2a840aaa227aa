"""A research replica (DATABASE_REPLICA_URL, research/dbrouter.py): research API reads go to it, everything else
and every write to the primary, and no row reaches a researcher without its pseudonym.

The "replica" here is a second connection to the test database under the alias "replica", read-only on
PostgreSQL as a streaming standby is, so a write routed to it would fail. The tests commit their data
(transaction=True) so that the second connection sees it.
"""

from __future__ import annotations

import copy

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext

from registry.models import Patient, TreatmentEpisode
from research.access import research_queryset
from research.dbrouter import REPLICA, ResearchReplicaRouter
from research.models import ApiKey, EpisodePseudonym, SubjectPseudonym
from research.services import pseudonyms_assign
from tests.research.conftest import make_episode, make_patient, second_subject

# "__all__": the test case is built after the module fixture below has added the alias, so it may use it.
pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


@pytest.fixture(scope="module", autouse=True)
def _replica_alias(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        primary = connections["default"]
        settings_dict = copy.deepcopy(primary.settings_dict)
        if primary.vendor == "postgresql":
            options = dict(settings_dict.get("OPTIONS") or {})
            options["options"] = "-c default_transaction_read_only=on"
            settings_dict["OPTIONS"] = options
        settings_dict["TEST"] = {**settings_dict.get("TEST", {}), "MIRROR": "default"}  # never flushed itself
        connections.settings[REPLICA] = settings_dict
        try:
            yield
        finally:
            connections[REPLICA].close()
            if hasattr(connections._connections, REPLICA):
                delattr(connections._connections, REPLICA)
            del connections.settings[REPLICA]


@pytest.fixture
def replica():
    return connections[REPLICA]


def _touches(queries: CaptureQueriesContext, text: str) -> bool:
    return any(text in q["sql"] for q in queries.captured_queries)


RELEASE_RULE = '"consent_research"'  # in every query that reads released rows (research.access)


def _as_if_imported_without_pseudonyms() -> None:
    """Rows that came in another way than the ORM (whose receivers give them pseudonyms at creation)."""
    SubjectPseudonym.objects.all().delete()
    EpisodePseudonym.objects.all().delete()


def test_research_reads_go_to_the_replica_and_writes_to_the_primary(replica, api_a, site_a):
    make_episode(make_patient(site_a))
    second_subject(site_a)  # a site's rows are released from k subjects (k=2 here)
    _as_if_imported_without_pseudonyms()  # their pseudonyms are written during the request
    with CaptureQueriesContext(connections["default"]) as on_primary, CaptureQueriesContext(replica) as on_replica:
        rows = api_a.all_pages("/api/v1/treatments/")
    assert len(rows) == 2 and all(r["subject_id"] for r in rows)
    assert _touches(on_replica, RELEASE_RULE)  # the released rows were read on the replica ...
    assert not _touches(on_primary, RELEASE_RULE)  # ... and not on the primary
    assert _touches(on_primary, "INSERT")  # where the pseudonyms were written (the replica is read-only)
    assert SubjectPseudonym.objects.count() == 2


def test_a_streamed_csv_export_reads_from_the_replica(replica, api_a, site_a):
    make_episode(make_patient(site_a))
    second_subject(site_a)  # a site's rows are released from k subjects (k=2 here)
    with CaptureQueriesContext(connections["default"]) as on_primary:
        response = api_a.get("/api/v1/treatments/", format="csv")
        assert response.status_code == 200
        replica.close()  # whatever the view did before streaming: the rows must be read while streaming
        body = b"".join(response.streaming_content).decode()
    assert len(body.strip().splitlines()) == 3  # header and the two episodes
    assert replica.connection is not None  # streaming opened the replica again (COPY is not in query logs)
    assert not _touches(on_primary, RELEASE_RULE)


def test_summaries_read_from_the_replica(replica, api_a, site_a):
    make_episode(make_patient(site_a))
    second_subject(site_a)  # a site's rows are released from k subjects (k=2 here)
    with CaptureQueriesContext(connections["default"]) as on_primary, CaptureQueriesContext(replica) as on_replica:
        response = api_a.get("/api/v1/summaries/arthroplasty/")
    assert response.status_code == 200, response.content[:300]
    assert _touches(on_replica, RELEASE_RULE)
    assert not _touches(on_primary, RELEASE_RULE)


def test_staff_pages_and_reads_after_a_research_request_use_the_primary(replica, api_a, site_a, client, alice):
    make_episode(make_patient(site_a))
    second_subject(site_a)  # a site's rows are released from k subjects (k=2 here)
    api_a.all_pages("/api/v1/treatments/")
    assert Patient.objects.all().db == "default"  # the research request did not leave its routing behind
    client.force_login(alice)
    with CaptureQueriesContext(replica) as on_replica:
        assert client.get("/admin/registry/patient/").status_code == 200
    assert on_replica.captured_queries == []


def test_with_a_replica_no_row_is_released_before_its_pseudonyms_reached_it(replica, site_a, key_a):
    episode = make_episode(make_patient(site_a))
    second = second_subject(site_a)
    _as_if_imported_without_pseudonyms()
    key = ApiKey.objects.get()
    assert not research_queryset(Patient, key).exists()  # no pseudonym yet (or not yet on the replica)
    assert not research_queryset(TreatmentEpisode, key).exists()
    pseudonyms_assign()
    assert set(research_queryset(TreatmentEpisode, key)) == {episode, second}
    assert research_queryset(Patient, key).count() == 2


def test_without_a_replica_the_router_routes_nothing(monkeypatch):
    from research import dbrouter

    router = ResearchReplicaRouter()
    with dbrouter.research_reads():
        assert router.db_for_read(Patient) == REPLICA
        monkeypatch.setattr(dbrouter, "replica_configured", lambda: False)
        assert router.db_for_read(Patient) is None
    assert router.db_for_write(Patient) is None
    assert router.allow_migrate(REPLICA, "registry") is False
    assert router.allow_migrate("default", "registry") is None
