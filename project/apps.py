from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ProjectConfig(AppConfig):
    """The project's wiring: settings, URLs, the Celery app, the admin site and the commands that span apps."""

    name = "project"
    verbose_name = _("Project")
