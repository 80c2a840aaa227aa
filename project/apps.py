from django.apps import AppConfig


class ProjectConfig(AppConfig):
    """The project's wiring: settings, URLs, the Celery app, the admin site and the commands that span apps."""

    name = "project"
    verbose_name = "Project"
