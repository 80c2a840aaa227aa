"""Settings for the registry, read from the environment (see .env.example and the README table).

Defaults give the single-machine demo: SQLite under var/, a folder as the Celery broker and emails on the
console. Production sets DATABASE_URL, CELERY_BROKER_URL, SECRET_KEY, ALLOWED_HOSTS and the email variables.
"""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from project.env import env_bool, env_choice, env_int, env_list, env_secret, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("REGISTRY_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DEBUG", False)

_secret = env_secret("SECRET_KEY")
if not _secret:
    if not DEBUG:
        raise ImproperlyConfigured(
            "The environment variable SECRET_KEY is required when DEBUG is off "
            "(or set SECRET_KEY_FILE to a file holding it)."
        )
    _secret = "demo-only-insecure-key-never-use-in-production"  # noqa: S105 - demo/debug mode only
SECRET_KEY = _secret

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and Redoc served from here, not from a CDN
    "simple_history",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    # The floors, bottom up (docs/architecture.md): the clinical core, follow-up, research, the project's wiring.
    "registry.apps.RegistryConfig",
    "outcomes.apps.OutcomesConfig",
    "research.apps.ResearchConfig",
    "interop.apps.InteropConfig",
    "project.apps.ProjectConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "project.middleware.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # Staff pages follow the language chosen in the admin header (a cookie), else the browser's, among LANGUAGES.
    # Patient pages and emails still use the patient's own language (outcomes.patient_views, outcomes.outbox).
    "django.middleware.locale.LocaleMiddleware",
    # The research API answers the same bytes whatever the browser's language (project.middleware).
    "project.middleware.ResearchInEnglishMiddleware",
    "django.middleware.common.CommonMiddleware",
    "project.middleware.RegistryCsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Records the request's user on every historical row written during the request.
    "simple_history.middleware.HistoryRequestMiddleware",
    # Login throttling and lockout (django-axes): must come last.
    "axes.middleware.AxesMiddleware",
]
# The deploy check looks for CsrfViewMiddleware by its dotted name and misses our subclass of it above
# (tests/project/test_settings.py checks that a CsrfViewMiddleware is in MIDDLEWARE instead).
SILENCED_SYSTEM_CHECKS = ["security.W003"]

ROOT_URLCONF = "project.urls"
WSGI_APPLICATION = "project.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "project" / "templates"],  # the admin site's own look (base_site, index, login)
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]


# Database ------------------------------------------------------------------------------------------------
def _database(variable: str, url: str) -> dict:
    try:
        db = dj_database_url.parse(url, conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60, minimum=0))
    except Exception as exc:  # dj-database-url raises several types for a malformed URL
        raise ImproperlyConfigured(f"{variable} is not a valid database URL: {exc}") from None
    if not db.get("ENGINE"):
        raise ImproperlyConfigured(f"{variable} has an unsupported scheme: {url.split(':', 1)[0]!r}.")
    return db


_database_url = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'registry.sqlite3'}")
_db = _database("DATABASE_URL", _database_url)
if _db["ENGINE"] == "django.db.backends.sqlite3":
    Path(_db["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    _db["CONN_MAX_AGE"] = 0
    # WAL lets the demo's web server and Celery worker use the file at the same time.
    _db["OPTIONS"] = {"init_command": "PRAGMA journal_mode=WAL;", "transaction_mode": "IMMEDIATE"}
    # Covering indexes (INCLUDE) speed PostgreSQL's summaries; SQLite ignores the extra columns, which is fine.
    SILENCED_SYSTEM_CHECKS.append("models.W040")
DATABASES = {"default": _db}
# Optional: a PostgreSQL streaming replica of the same database, read by research API requests only
# (research/dbrouter.py). Tests treat it as a mirror of the default database.
_replica_url = env_str("DATABASE_REPLICA_URL", "")
if _replica_url:
    DATABASES["replica"] = {**_database("DATABASE_REPLICA_URL", _replica_url), "TEST": {"MIRROR": "default"}}
DATABASE_ROUTERS = ["research.dbrouter.ResearchReplicaRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Client addresses ----------------------------------------------------------------------------------------
# How many reverse proxies stand in front of web, each appending to X-Forwarded-For. 0: the connection's address,
# X-Forwarded-For is never read. N: its N-th entry from the right (registry.client_ip, pinned by
# tests/security/test_client_ip.py). Keys the login lockout, the patient pages' rate limit and the access logs.
REGISTRY_TRUSTED_PROXIES = env_int("REGISTRY_TRUSTED_PROXIES", 0, minimum=0, maximum=5)

# Auth ----------------------------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "admin:login"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # refuses logins while an account/address is locked out
    "django.contrib.auth.backends.ModelBackend",
]
# After AXES_FAILURE_LIMIT failed logins for one username from one address, that pair is locked for
# AXES_COOLOFF_MINUTES; a registry administrator can unlock earlier (Axes → Access attempts).
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False  # no start-up banner on every command
AXES_LOCKOUT_TEMPLATE = "project/locked_out.html"
AXES_SENSITIVE_PARAMETERS = ["password", "otp_token"]
# The address a lockout (and axes' access log) keys on: REMOTE_ADDR, or behind REGISTRY_TRUSTED_PROXIES proxies
# the address the outermost of them saw (registry.client_ip).
AXES_CLIENT_IP_CALLABLE = "registry.client_ip.client_ip"

# Internationalisation ------------------------------------------------------------------------------------
LANGUAGE_CODE = "en"
# The languages the registry ships complete translations for (outcomes/locale for patients; registry/locale,
# research/locale and project/locale for staff), each named in itself: a patient picks theirs from this list, staff
# theirs in the admin header. Instrument wording is the site's, loaded per language (InstrumentWording).
LANGUAGES = [
    ("en", "English"),
    ("ko", "한국어"),
    ("ja", "日本語"),
    ("zh-hans", "简体中文"),
    ("zh-hant", "繁體中文"),
]
TIME_ZONE = env_str("TIME_ZONE", "UTC")
try:
    import zoneinfo

    zoneinfo.ZoneInfo(TIME_ZONE)
except Exception:
    raise ImproperlyConfigured(f"TIME_ZONE is not a known IANA time zone: {TIME_ZONE!r}.") from None
USE_I18N = True
# The staff's choice of language in the admin header (django.views.i18n.set_language), remembered for a year.
LANGUAGE_COOKIE_AGE = 365 * 24 * 60 * 60
LANGUAGE_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_SAMESITE = "Lax"
FORMAT_MODULE_PATH = ["project.formats"]  # English dates spelt out: project/formats/en/formats.py
USE_TZ = True

# Static files --------------------------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "static")))
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    "project.staticfinders.PlotlyFinder",  # vendor/plotly.min.js from the plotly package (no CDN)
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# Email ---------------------------------------------------------------------------------------------------
_EMAIL_BACKENDS = {
    "smtp": "django.core.mail.backends.smtp.EmailBackend",
    "console": "django.core.mail.backends.console.EmailBackend",
    "file": "django.core.mail.backends.filebased.EmailBackend",
    "locmem": "django.core.mail.backends.locmem.EmailBackend",
}
EMAIL_BACKEND = _EMAIL_BACKENDS[env_choice("EMAIL_BACKEND", "console", set(_EMAIL_BACKENDS))]
EMAIL_FILE_PATH = env_str("EMAIL_FILE_PATH", str(VAR_DIR / "mail"))
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1, maximum=65535)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_secret("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 20, minimum=1)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "registry@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# Text messages (outcomes.texting) -------------------------------------------------------------------------
_TEXT_BACKENDS = {
    "console": "outcomes.texting.backends.console.TextBackend",
    "file": "outcomes.texting.backends.filebased.TextBackend",
    "locmem": "outcomes.texting.backends.locmem.TextBackend",
    "twilio": "outcomes.texting.backends.twilio.TextBackend",
}
TEXT_BACKEND = _TEXT_BACKENDS[env_choice("TEXT_BACKEND", "console", set(_TEXT_BACKENDS))]
TEXT_FILE_PATH = env_str("TEXT_FILE_PATH", str(VAR_DIR / "texts"))
# FHIR Bulk Data export files (interop): one folder per export, NDJSON per resource type.
FHIR_EXPORT_DIR = VAR_DIR / "fhir-exports"
TEXT_FROM = env_str("TEXT_FROM", "")
TWILIO_ACCOUNT_SID = env_str("TWILIO_ACCOUNT_SID", "")
TWILIO_AUTH_TOKEN = env_secret("TWILIO_AUTH_TOKEN", "")
TWILIO_MESSAGING_SERVICE_SID = env_str("TWILIO_MESSAGING_SERVICE_SID", "")

# Celery --------------------------------------------------------------------------------------------------
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    # kombu's filesystem transport: a folder shared by web, worker and beat, so the demo needs no Redis.
    _broker_dir = VAR_DIR / "broker"
    (_broker_dir / "out").mkdir(parents=True, exist_ok=True)
    (_broker_dir / "processed").mkdir(parents=True, exist_ok=True)
    (_broker_dir / "control").mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "out"),
        "data_folder_out": str(_broker_dir / "out"),
        "processed_folder": str(_broker_dir / "processed"),
        "store_processed": False,
        "control_folder": str(_broker_dir / "control"),
    }
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 300, minimum=1)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 240, minimum=1)
CELERY_TIMEZONE = TIME_ZONE
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# The follow-up dispatcher claims due work from indexed queries (outcomes.contact); the pseudonym sweep is the
# backstop for rows that did not get theirs at creation (research.services.pseudonyms_assign).
CELERY_BEAT_SCHEDULE: dict[str, dict] = {
    "follow-up-dispatcher": {
        "task": "outcomes.tasks.dispatch_follow_ups",
        "schedule": env_int("FOLLOW_UP_DISPATCH_SECONDS", 120, minimum=10),
    },
    "pseudonym-sweep": {"task": "research.tasks.assign_pseudonyms", "schedule": 3600},
    # After a deploy with new scoring rules, stored scores are rescored in batches (outcomes.W002 warns until done).
    "stale-score-rescore": {"task": "outcomes.tasks.rescore_stale_scores", "schedule": 300},
}

# REST framework ------------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # The research throttles key on the API key; any throttle keyed on an address takes the proxies' count from
    # here (DRF's rule is registry.client_ip's; None, DRF's default, would trust X-Forwarded-For as sent).
    "NUM_PROXIES": REGISTRY_TRUSTED_PROXIES,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Regenerative orthopedics outcome registry API",
    "VERSION": "1",
    "DESCRIPTION": (
        "De-identified, read-only research data: treatments, administrations, scores (long and wide), adverse "
        "events, subsequent surgeries, a data dictionary and summaries. Authenticate with "
        "`Authorization: Token <key>` (a key from the registry administrator, scoped to sites). Lists answer JSON "
        "in cursor pages (`page_size` up to 10000) or the whole filtered list as CSV (`format=csv` or "
        "`Accept: text/csv`), streamed, or as an SPSS or Stata file with the dictionary's variable and value "
        "labels (`format=sav`, `format=dta`). Unknown parameters and invalid values are refused with 400. Rate "
        "limits per key: RESEARCH_RATE_LIMIT requests (default 300/minute) and RESEARCH_CSV_RATE_LIMIT file "
        "exports (default 60/hour); over a limit the answer is 429 with Retry-After."
    ),
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "research.api.schema.add_research_responses",
    ],
}

# Research API --------------------------------------------------------------------------------------------
# Summary cells computed from fewer subjects than this are suppressed (research.summaries).
RESEARCH_MIN_CELL_SIZE = env_int("RESEARCH_MIN_CELL_SIZE", 11, minimum=1)
# Cell-key perturbation of the summaries released to summary-tier keys (research.summaries.cellkey). The record
# keys are an HMAC of each pseudonym under this secret; by default derived from SECRET_KEY with its own salt.
RESEARCH_CELL_KEY_SECRET = (
    env_secret("RESEARCH_CELL_KEY_SECRET", "")
    or hashlib.sha256(b"research.cellkey:" + SECRET_KEY.encode()).hexdigest()
)
RESEARCH_CELL_KEY_MAX_PERTURBATION = env_int("RESEARCH_CELL_KEY_MAX_PERTURBATION", 2, minimum=1, maximum=10)
try:
    RESEARCH_CELL_KEY_VARIANCE = float(env_str("RESEARCH_CELL_KEY_VARIANCE", "1.0"))
except ValueError:
    raise ImproperlyConfigured("RESEARCH_CELL_KEY_VARIANCE must be a number, e.g. 1.0.") from None
if not 0 < RESEARCH_CELL_KEY_VARIANCE < RESEARCH_CELL_KEY_MAX_PERTURBATION**2:
    raise ImproperlyConfigured(
        "RESEARCH_CELL_KEY_VARIANCE must be above 0 and below RESEARCH_CELL_KEY_MAX_PERTURBATION squared "
        f"({RESEARCH_CELL_KEY_MAX_PERTURBATION**2}), not {RESEARCH_CELL_KEY_VARIANCE}."
    )
RESEARCH_RATE_LIMIT = env_str("RESEARCH_RATE_LIMIT", "300/minute")
RESEARCH_CSV_RATE_LIMIT = env_str("RESEARCH_CSV_RATE_LIMIT", "60/hour")
# An SPSS or Stata file is built in memory (pyreadstat writes a whole data frame): a larger export is refused
# with a 400 that points to the streamed CSV (research/labelled.py).
RESEARCH_LABELLED_MAX_ROWS = env_int("RESEARCH_LABELLED_MAX_ROWS", 250_000, minimum=1)
for _name in ("RESEARCH_RATE_LIMIT", "RESEARCH_CSV_RATE_LIMIT"):
    if not re.fullmatch(r"[1-9][0-9]*/(s|sec|second|m|min|minute|h|hour|d|day)", globals()[_name]):
        raise ImproperlyConfigured(
            f"{_name} must be a number per second, minute, hour or day, e.g. 300/minute, not {globals()[_name]!r}."
        )

# Security ------------------------------------------------------------------------------------------------
# Production defaults are strict; behind a TLS-terminating proxy set SECURE_PROXY_SSL_HEADER=true.
_secure = not DEBUG
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", _secure)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", _secure)
LANGUAGE_COOKIE_SECURE = SESSION_COOKIE_SECURE
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", _secure)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000 if _secure else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", _secure)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", _secure)
if env_bool("SECURE_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
# Idle timeout: the session ends SESSION_COOKIE_AGE seconds after the last request (every request renews it).
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 30 * 60, minimum=60)
SESSION_SAVE_EVERY_REQUEST = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

# Logging -------------------------------------------------------------------------------------------------
# Checked here: logging.config would reject a bad level with a message that does not name the variable.
_log_level = env_str("LOG_LEVEL", "INFO").upper()
if _log_level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
    raise ImproperlyConfigured(f"LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, not {_log_level!r}.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # Patient link tokens never reach a log (project.logscrub).
    "filters": {"scrub_tokens": {"()": "project.logscrub.ScrubTokensFilter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["scrub_tokens"]}},
    "root": {"handlers": ["console"], "level": _log_level},
    "loggers": {
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django.request": {"handlers": ["console"], "level": "WARNING", "propagate": False},
    },
}

# Cache: rate limits of the patient pages. Set CACHE_URL=redis://... when several web processes run.
_cache_url = env_str("CACHE_URL", "locmem://")
if _cache_url.startswith("redis://") or _cache_url.startswith("rediss://"):
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": _cache_url}}
elif _cache_url == "locmem://":
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
else:
    raise ImproperlyConfigured(f"CACHE_URL must be locmem:// or redis://host:port/db, not {_cache_url!r}.")

# Registry ------------------------------------------------------------------------------------------------
REGISTRY_NAME = env_str("REGISTRY_NAME", "Regenerative Orthopedics Outcome Registry")
OTP_TOTP_ISSUER = REGISTRY_NAME  # the name authenticator apps show
# Absolute base of links in emails, e.g. https://registry.example.org (no trailing slash).
# The demo (`dev.py demo`, DEBUG only) writes the address it serves on to var/demo-base-url, so every process of
# the demo (web, worker, beat, a `followups_run` typed in another terminal) links to the port it really uses.
_demo_base_url_file = VAR_DIR / "demo-base-url"
_demo_base_url = ""
if DEBUG and _demo_base_url_file.is_file():
    _demo_base_url = _demo_base_url_file.read_text(encoding="utf-8").strip()
REGISTRY_BASE_URL = env_str("REGISTRY_BASE_URL", _demo_base_url or "http://127.0.0.1:8000")
# Patient pages: requests per address per minute before 429.
PATIENT_RATE_LIMIT = env_int("PATIENT_RATE_LIMIT", 30, minimum=1)
