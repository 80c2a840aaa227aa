from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ResearchConfig(AppConfig):
    """De-identification, the research API, summaries, exports and the cohort dashboard."""

    name = "research"
    verbose_name = _("Research")

    def ready(self) -> None:
        from research import signals  # noqa: F401 - connects the pseudonym receivers
