"""Researcher API keys and the pseudonym tables move to the research app (research/migrations/0001_initial.py).

Django's state only: the tables stay where they are, under their names, with their rows. The research app's
first migration takes the models over with the same tables.
"""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("registry", "0005_episode_status"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.DeleteModel(name="ApiKey"),
                migrations.DeleteModel(name="SubjectPseudonym"),
                migrations.DeleteModel(name="EpisodePseudonym"),
            ],
        ),
    ]
