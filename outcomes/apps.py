from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OutcomesConfig(AppConfig):
    name = "outcomes"
    verbose_name = _("Outcomes")

    def ready(self) -> None:
        from outcomes import checks, signals  # noqa: F401 - registers the check, connects the receivers
        from outcomes.dashboards import episode_charts
        from outcomes.imports import admin as _imports_admin  # noqa: F401 - registers the imports' admin pages
        from outcomes.patient_data import FOLLOW_UP_DATA
        from outcomes.roles import FOLLOW_UP_GRANTS
        from registry import extensions, roles

        # What follow-up adds to the core (registry.extensions, registry.roles): the episode page's scores over
        # time, its share of a patient's export and anonymisation, and the staff roles' permissions on its models.
        extensions.episode_panel_add(
            extensions.EpisodePanel(
                key="charts",
                title=_("Scores over time"),
                template="outcomes/charts/_episode_panel.html",
                head_template="outcomes/charts/_scripts.html",
                content=lambda episode, user: episode_charts(episode=episode, user=user),
            )
        )
        extensions.patient_data_add(FOLLOW_UP_DATA)
        roles.grants_add(FOLLOW_UP_GRANTS)
