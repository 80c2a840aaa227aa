"""The Celery application. Configuration comes from Django settings (CELERY_* names); tasks are found in
each app's tasks.py. Tasks are thin adapters that take ids and call a service (see STYLE.md)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

app = Celery("registry", task_cls="celery.contrib.django.task:DjangoTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
