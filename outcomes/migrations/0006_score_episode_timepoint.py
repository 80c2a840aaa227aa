"""Each score carries its follow-up's episode and timepoint, so summaries read scores without the follow-ups.

Existing scores are filled from their follow-ups (one UPDATE; at 9 million scores on PostgreSQL expect minutes, as
the table is rewritten). On PostgreSQL a trigger then refuses any change of a follow-up's episode or timepoint,
which no code path makes and which would leave its scores' copies stale."""

import django.db.models.deletion
from django.db import migrations, models

TIMEPOINTS = [
    ("baseline", "Baseline"),
    ("m3", "3 months"),
    ("m6", "6 months"),
    ("m12", "12 months"),
    ("m24", "24 months"),
]

FIXED_TRIGGER = """
CREATE FUNCTION outcomes_follow_up_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.episode_id IS DISTINCT FROM OLD.episode_id OR NEW.timepoint IS DISTINCT FROM OLD.timepoint THEN
        RAISE EXCEPTION 'follow-up %: its episode and timepoint are fixed (its scores carry them)', OLD.id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER outcomes_follow_up_fixed BEFORE UPDATE OF episode_id, timepoint ON outcomes_followup
    FOR EACH ROW EXECUTE FUNCTION outcomes_follow_up_fixed();
"""

DROP_TRIGGER = """
DROP TRIGGER IF EXISTS outcomes_follow_up_fixed ON outcomes_followup;
DROP FUNCTION IF EXISTS outcomes_follow_up_fixed();
"""


def backfill(apps, schema_editor):
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "UPDATE outcomes_score s SET episode_id = f.episode_id, timepoint = f.timepoint"
                " FROM outcomes_followup f WHERE f.id = s.follow_up_id"
            )
        else:
            cursor.execute(
                "UPDATE outcomes_score SET"
                " episode_id = (SELECT f.episode_id FROM outcomes_followup f WHERE f.id = outcomes_score.follow_up_id),"
                " timepoint = (SELECT f.timepoint FROM outcomes_followup f WHERE f.id = outcomes_score.follow_up_id)"
            )


def trigger_create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(FIXED_TRIGGER)  # no parameters: the function's own % stays as written


def trigger_drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(DROP_TRIGGER)


class Migration(migrations.Migration):
    dependencies = [
        ("outcomes", "0005_research_read_indexes"),
        ("registry", "0004_episode_first_administration"),
    ]

    operations = [
        migrations.AddField(
            model_name="score",
            name="episode",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                editable=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to="registry.treatmentepisode",
            ),
        ),
        migrations.AddField(
            model_name="score",
            name="timepoint",
            field=models.CharField(choices=TIMEPOINTS, editable=False, max_length=10, null=True),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop, elidable=False),
        migrations.AlterField(
            model_name="score",
            name="episode",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                editable=False,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to="registry.treatmentepisode",
            ),
        ),
        migrations.AlterField(
            model_name="score",
            name="timepoint",
            field=models.CharField(choices=TIMEPOINTS, editable=False, max_length=10),
        ),
        migrations.RemoveIndex(model_name="score", name="score_instrument_key_value"),
        migrations.AddIndex(
            model_name="score",
            index=models.Index(
                fields=["instrument", "key", "timepoint"],
                include=("episode", "value"),
                name="score_instrument_key_tp",
            ),
        ),
        migrations.RunPython(trigger_create, trigger_drop),
    ]
