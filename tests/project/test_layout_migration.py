"""The floors' move (research models from the registry app to the research app) keeps every row: a database
migrated and filled at the old layout migrates forward with the same rows, the same keys and the same content
types, so the permissions and admin log entries that point at the moved models stay attached."""

from __future__ import annotations

from datetime import date

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

OLD_LAYOUT = [("research", None), ("registry", "0005_episode_status")]


def _executor() -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    return executor


def _counts() -> dict[str, int]:
    # The tables that exist: models added since the old layout (imports, say) have none there yet.
    tables = connection.introspection.django_table_names(only_existing=True, include_views=False)
    with connection.cursor() as cursor:
        out = {}
        for table in sorted(tables):
            cursor.execute(f"SELECT COUNT(*) FROM {connection.ops.quote_name(table)}")  # noqa: S608 (our tables)
            out[table] = cursor.fetchone()[0]
    return out


@pytest.mark.django_db(transaction=True)
def test_a_database_filled_at_the_old_layout_migrates_forward_with_every_row():
    executor = _executor()
    latest = executor.loader.graph.leaf_nodes()
    executor.migrate(OLD_LAYOUT)
    old = _executor()._create_project_state(with_applied_migrations=True).apps
    assert not any(m._meta.app_label == "research" for m in old.get_models())  # the old layout indeed

    # Rows written through the old layout's models: the research models are the registry app's there.
    Site = old.get_model("registry", "Site")
    Patient = old.get_model("registry", "Patient")
    Episode = old.get_model("registry", "TreatmentEpisode")
    ApiKey = old.get_model("registry", "ApiKey")
    SubjectPseudonym = old.get_model("registry", "SubjectPseudonym")
    EpisodePseudonym = old.get_model("registry", "EpisodePseudonym")
    ContentType = old.get_model("contenttypes", "ContentType")
    Permission = old.get_model("auth", "Permission")
    Group = old.get_model("auth", "Group")
    site = Site.objects.create(
        code="OLD", name="Old layout clinic", time_zone="Asia/Seoul", contact_email="clinic@example.test"
    )
    patients = [
        Patient.objects.create(
            site=site, registry_id=f"R-OLD-{n:04d}", sex="female", consent_version="v1", consent_date=date(2025, 1, 2)
        )
        for n in range(3)
    ]
    episodes = [
        Episode.objects.create(
            patient=p, joint="knee", side="left", diagnosis="primary_oa", index_date=date(2025, 2, 3), status="done"
        )
        for p in patients
    ]
    key = ApiKey.objects.create(name="Old study", prefix="abcd", key_hash="f" * 64)
    key.sites.add(site)
    for n, (p, e) in enumerate(zip(patients, episodes, strict=True)):
        SubjectPseudonym.objects.create(patient=p, pseudonym=f"S-OLD{n:06d}")
        EpisodePseudonym.objects.create(episode=e, pseudonym=f"E-OLD{n:06d}")
    key_type = ContentType.objects.get_or_create(app_label="registry", model="apikey")[0]
    view_key, _ = Permission.objects.get_or_create(
        codename="view_apikey", content_type=key_type, defaults={"name": "Can view researcher API key"}
    )
    Group.objects.create(name="Key readers").permissions.add(view_key)
    before = _counts()
    assert before["registry_apikey"] == 1 and before["registry_subjectpseudonym"] == 3

    _executor().migrate(latest)

    from django.contrib.auth.models import Group as NewGroup
    from django.contrib.contenttypes.models import ContentType as NewContentType

    from research.models import ApiKey as NewApiKey
    from research.models import EpisodePseudonym as NewEpisodePseudonym
    from research.models import SubjectPseudonym as NewSubjectPseudonym

    after = _counts()
    assert {t: after[t] for t in before} == before  # no table gained or lost a row, the content types included
    assert not any(after[t] for t in set(after) - set(before))  # tables added since are empty
    moved = NewApiKey.objects.get(pk=key.pk)
    assert (moved.name, moved.prefix, moved.key_hash) == ("Old study", "abcd", "f" * 64)
    assert list(moved.sites.values_list("code", flat=True)) == ["OLD"]
    assert sorted(NewSubjectPseudonym.objects.values_list("patient__registry_id", "pseudonym")) == [
        (p.registry_id, f"S-OLD{n:06d}") for n, p in enumerate(patients)
    ]
    assert NewEpisodePseudonym.objects.get(episode_id=episodes[1].pk).pseudonym == "E-OLD000001"
    # The content type moved with the model (same row), so the group's permission still names it.
    assert NewContentType.objects.get_for_model(NewApiKey).pk == key_type.pk
    assert NewGroup.objects.get(name="Key readers").permissions.get().content_type.app_label == "research"
    assert not NewContentType.objects.filter(app_label="registry", model="apikey").exists()
