"""`Authorization: Token <key>` with a researcher's API key, and the read-only permission and rate limits.

A key authenticates as a `ResearchClient`, not as a Django user: it has no staff flag, no permissions and no
session, so it can never reach the admin, and the research views accept nothing else (a staff session does not
open the research API either). Keys are looked up by their SHA-256 digest; a revoked or expired key is refused
with 401 and a message saying which. A key of the summary tier asking for a row-level endpoint is refused with
403 and a body naming its tier and what it may read (HasRowsTier).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework import exceptions, permissions, throttling
from rest_framework.authentication import TokenAuthentication

from research.models import ApiKey
from research.services import api_key_find, api_key_touch


class ResearchClient:
    """The caller of a request made with an API key: authenticated, but no user and no staff rights."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    pk = None
    id = None

    def __init__(self, key: ApiKey) -> None:
        self.key = key
        self.username = f"api-key:{key.prefix}"

    def __str__(self) -> str:
        return self.username

    def has_perm(self, perm: str, obj: Any = None) -> bool:
        return False

    def has_module_perms(self, app_label: str) -> bool:
        return False


class ApiKeyAuthentication(TokenAuthentication):
    """`Authorization: Token rk_...`. Subclasses DRF's TokenAuthentication for the header parsing (and so that
    the OpenAPI schema describes the scheme), but looks the key up among researcher API keys."""

    keyword = "Token"

    def authenticate_credentials(self, key: str) -> tuple[ResearchClient, ApiKey]:
        api_key = api_key_find(raw_key=key)
        if api_key is None:
            raise exceptions.AuthenticationFailed("Invalid API key.")
        if api_key.is_revoked:
            raise exceptions.AuthenticationFailed("This API key has been revoked.")
        if api_key.is_expired:
            raise exceptions.AuthenticationFailed("This API key has expired.")
        api_key_touch(key=api_key)
        return ResearchClient(api_key), api_key


class HasResearchKey(permissions.BasePermission):
    """Only a researcher API key, and only reads."""

    message = "A researcher API key is required: Authorization: Token <key>."

    def has_permission(self, request: Any, view: Any) -> bool:
        if not isinstance(request.auth, ApiKey):
            return False
        if request.method in permissions.SAFE_METHODS:
            return True
        # A method the view does not have answers 405 Method Not Allowed (DRF checks it after this); a write the
        # view could take is refused here.
        return getattr(view, request.method.lower(), None) is None


# What each tier may read (the 403 of a summary key asking for rows names it).
SUMMARY_READS = [
    "/api/v1/summaries/scores/",
    "/api/v1/summaries/arthroplasty/",
    "/api/v1/dictionary/",
    "/api/v1/datapackage/",
    "/api/v1/schema/",
]
ROWS_READS = [
    *SUMMARY_READS,
    "/api/v1/treatments/",
    "/api/v1/administrations/",
    "/api/v1/scores/",
    "/api/v1/scores/wide/",
    "/api/v1/adverse-events/",
    "/api/v1/surgeries/",
    "/fhir/$export",
]


def tier_refusal(key: ApiKey) -> dict[str, Any]:
    """The body of the 403 that a summary key gets from a row-level endpoint."""
    return {
        "detail": (
            f"This API key has the {key.tier!r} tier: it reads aggregates only (summaries, dictionary, data "
            "package, schema). Row-level data needs a key of the 'rows' tier from the registry administrator."
        ),
        "tier": key.tier,
        "may_read": SUMMARY_READS if not key.reads_rows else ROWS_READS,
    }


class TierRefused(exceptions.PermissionDenied):
    """403 whose body says the key's tier and what it may read (DRF renders a dict detail as it is)."""

    def __init__(self, key: ApiKey) -> None:
        super().__init__(detail=tier_refusal(key))


class HasRowsTier(permissions.BasePermission):
    """Row-level endpoints: only a key of the rows tier (after HasResearchKey, which refuses anything else)."""

    def has_permission(self, request: Any, view: Any) -> bool:
        key = request.auth
        if not isinstance(key, ApiKey):
            return False
        if not key.reads_rows:
            raise TierRefused(key)
        return True


class ResearchKeyThrottle(throttling.SimpleRateThrottle):
    """Requests per key (RESEARCH_RATE_LIMIT, default 300/min); over it: 429 with Retry-After."""

    scope = "research"
    setting = "RESEARCH_RATE_LIMIT"

    def get_rate(self) -> str:
        return getattr(settings, self.setting)

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        if not isinstance(request.auth, ApiKey):
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.auth.pk}


# The formats that answer a whole filtered list as one file: CSV streamed, SPSS and Stata labelled.
EXPORT_FORMATS = frozenset({"csv", "sav", "dta"})


class ResearchCsvThrottle(ResearchKeyThrottle):
    """File exports per key, CSV, SPSS and Stata together (RESEARCH_CSV_RATE_LIMIT, default 60/hour): each may be
    a whole cohort."""

    scope = "research_csv"
    setting = "RESEARCH_CSV_RATE_LIMIT"

    def allow_request(self, request: Any, view: Any) -> bool:
        renderer = getattr(request, "accepted_renderer", None)
        if getattr(renderer, "format", None) not in EXPORT_FORMATS:
            return True
        return super().allow_request(request, view)
