"""The project's wiring: settings, the root URLconf, the Celery app, the admin site and the commands that span
apps (docs/architecture.md)."""

from project.celery import app as celery_app

__all__ = ["celery_app"]
