from django.apps import AppConfig


class OutcomesConfig(AppConfig):
    name = "outcomes"
    verbose_name = "Outcomes"

    def ready(self) -> None:
        from outcomes import checks, signals  # noqa: F401 - registers the check, connects the receivers
