"""The research app's models, moved from the registry app with their tables: a change of Django's state only.

On a database that has the registry app's tables (every database migrated before the move) nothing in the database
changes: the tables keep their names (`db_table`), rows, indexes and constraints. The content types follow the
models, so the permissions and admin log entries that point at them stay attached.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

MOVED = ("apikey", "subjectpseudonym", "episodepseudonym")


def content_types_follow(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    db = schema_editor.connection.alias
    for model in MOVED:
        if not ContentType.objects.using(db).filter(app_label="research", model=model).exists():
            ContentType.objects.using(db).filter(app_label="registry", model=model).update(app_label="research")


def content_types_back(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    db = schema_editor.connection.alias
    for model in MOVED:
        if not ContentType.objects.using(db).filter(app_label="registry", model=model).exists():
            ContentType.objects.using(db).filter(app_label="research", model=model).update(app_label="registry")


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("registry", "0006_research_models_moved"),
        ("contenttypes", "0002_remove_content_type_name"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name="EpisodePseudonym",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("pseudonym", models.CharField(max_length=16, unique=True)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        (
                            "episode",
                            models.OneToOneField(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="research_pseudonym",
                                to="registry.treatmentepisode",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "registry_episodepseudonym",
                        "verbose_name": "episode pseudonym",
                    },
                ),
                migrations.CreateModel(
                    name="SubjectPseudonym",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("pseudonym", models.CharField(max_length=16, unique=True)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        (
                            "patient",
                            models.OneToOneField(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="research_pseudonym",
                                to="registry.patient",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "registry_subjectpseudonym",
                        "verbose_name": "subject pseudonym",
                    },
                ),
                migrations.CreateModel(
                    name="ApiKey",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("name", models.CharField(help_text="Who holds the key and for which study.", max_length=100)),
                        (
                            "prefix",
                            models.CharField(
                                editable=False,
                                help_text="The key's first characters, to tell keys apart.",
                                max_length=16,
                            ),
                        ),
                        ("key_hash", models.CharField(editable=False, max_length=64, unique=True)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        (
                            "expires_at",
                            models.DateTimeField(
                                blank=True, help_text="Empty: never expires (not recommended).", null=True
                            ),
                        ),
                        ("revoked_at", models.DateTimeField(blank=True, editable=False, null=True)),
                        ("last_used_at", models.DateTimeField(blank=True, editable=False, null=True)),
                        (
                            "created_by",
                            models.ForeignKey(
                                blank=True,
                                editable=False,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        (
                            "sites",
                            models.ManyToManyField(
                                help_text="Sites whose data the key reads.", related_name="api_keys", to="registry.site"
                            ),
                        ),
                    ],
                    options={
                        "db_table": "registry_apikey",
                        "verbose_name": "researcher API key",
                        "ordering": ["-created_at", "-id"],
                        "constraints": [
                            models.CheckConstraint(
                                condition=models.Q(
                                    ("expires_at__isnull", True),
                                    ("expires_at__gt", models.F("created_at")),
                                    _connector="OR",
                                ),
                                name="apikey_expires_after_creation",
                            )
                        ],
                    },
                ),
            ],
        ),
        migrations.RunPython(content_types_follow, content_types_back),
    ]
