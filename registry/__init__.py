"""The registry's Django project and its core app (sites, patients, treatments)."""

from registry.celery import app as celery_app

__all__ = ["celery_app"]
