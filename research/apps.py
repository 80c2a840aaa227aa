from django.apps import AppConfig


class ResearchConfig(AppConfig):
    """De-identification, the research API, summaries, exports and the cohort dashboard."""

    name = "research"
    verbose_name = "Research"

    def ready(self) -> None:
        from research import signals  # noqa: F401 - connects the pseudonym receivers
