"""Settings for the test suite: the real settings module plus fast, local-only services.

DATABASE_URL and CELERY_BROKER_URL still come from the environment, so the same suite runs on SQLite with an
in-memory broker by default and on PostgreSQL and Redis in CI.
"""

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-for-the-registry-test-suite-0123456789")
os.environ.setdefault("CELERY_BROKER_URL", "memory://")
os.environ.setdefault("REGISTRY_VAR_DIR", os.path.join(os.path.dirname(os.path.dirname(__file__)), "var", "test"))
os.environ["DEBUG"] = "false"

from project.settings import *  # noqa: E402, F403
from project.settings import DATABASES, STORAGES  # noqa: E402

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
TEXT_BACKEND = "outcomes.texting.backends.locmem.TextBackend"
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
LANGUAGE_COOKIE_SECURE = False
WHITENOISE_AUTOREFRESH = True  # no collectstatic in tests
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"scrub_tokens": {"()": "project.logscrub.ScrubTokensFilter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["scrub_tokens"]}},
    "root": {"level": "WARNING"},
    "loggers": {
        "django.server": {"handlers": ["console"], "level": "WARNING", "propagate": False},
        "django.request": {"handlers": ["console"], "level": "ERROR", "propagate": True},
    },
}
# Close connections after each request and Celery task, so worker and live-server threads leave none behind.
DATABASES["default"]["CONN_MAX_AGE"] = 0
