"""The project's middleware: CSRF for pages without a referrer, security headers, the research API's language.

CSRF for pages served with `Referrer-Policy: no-referrer`.

Browsers post `Origin: null` (and no Referer) from such pages, which Django's Origin and Referer checks reject.
Views marked `csrf_token_only` (the patient questionnaire) are checked by the CSRF token alone: the secret in the
cookie must match the masked token in the form. That is the check that defends against cross-site posts; the
Origin/Referer comparison is Django's defence in depth, which these pages give up in exchange for never
leaking their address. Every other view keeps Django's full check.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import CsrfViewMiddleware, RejectRequest
from django.utils import translation


class RegistryCsrfViewMiddleware(CsrfViewMiddleware):
    def process_view(
        self, request: HttpRequest, callback: Any, callback_args: Any, callback_kwargs: Any
    ) -> HttpResponse | None:
        if (
            getattr(callback, "csrf_token_only", False)
            and not getattr(callback, "csrf_exempt", False)
            and request.method not in ("GET", "HEAD", "OPTIONS", "TRACE")
            and not getattr(request, "_dont_enforce_csrf_checks", False)
        ):
            try:
                self._check_token(request)
            except RejectRequest as exc:
                return self._reject(request, exc.reason)
            return self._accept(request)
        return super().process_view(request, callback, callback_args, callback_kwargs)


# Every response: a strict Content-Security-Policy and the headers Django does not set itself. Scripts come only
# from the registry (no inline code, no CDN: plotly.js and the API docs are served locally); styles may be inline
# because Plotly and the admin set style attributes.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "worker-src 'self' blob:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()"


class SecurityHeadersMiddleware:
    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        response.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        response.setdefault("Cross-Origin-Resource-Policy", "same-origin")
        response.setdefault("X-Content-Type-Options", "nosniff")
        return response


# The research API's contract is its bytes: JSON keys and values, CSV headers, error messages. LocaleMiddleware
# (before this one) activates the staff's language for every request; here the API and the cohort figures
# (JSON for a researcher's key) are put back in the registry's own language, for the whole request and for the
# CSV streamed after the view has returned, so nothing a researcher receives depends on Accept-Language.
RESEARCH_PATHS = ("/api/", "/charts/cohort/figures/")


class ResearchInEnglishMiddleware:
    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path_info.startswith(RESEARCH_PATHS):
            return self.get_response(request)
        translation.activate(settings.LANGUAGE_CODE)
        request.LANGUAGE_CODE = settings.LANGUAGE_CODE  # type: ignore[attr-defined]
        response = self.get_response(request)
        response.setdefault("Content-Language", settings.LANGUAGE_CODE)
        return response
