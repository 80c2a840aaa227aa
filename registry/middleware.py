"""CSRF for pages served with `Referrer-Policy: no-referrer`.

Browsers post `Origin: null` (and no Referer) from such pages, which Django's Origin and Referer checks reject.
Views marked `csrf_token_only` (the patient questionnaire) are checked by the CSRF token alone: the secret in the
cookie must match the masked token in the form. That is the check that defends against cross-site posts; the
Origin/Referer comparison is Django's defence in depth, which these pages give up in exchange for never
leaking their address. Every other view keeps Django's full check.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import CsrfViewMiddleware, RejectRequest


class RegistryCsrfViewMiddleware(CsrfViewMiddleware):
    def process_view(self, request: HttpRequest, callback: Any, callback_args: Any,
                     callback_kwargs: Any) -> HttpResponse | None:
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
