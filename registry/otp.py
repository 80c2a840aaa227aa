"""Optional two-factor authentication for staff (TOTP, django-otp).

A staff member who enrols an authenticator app must give its 6-digit code at every login; one who has not logs
in with the password alone. Enrolment is self-service (Two-factor authentication, in the admin's user menu):
scan the QR code, confirm with a code. A registry administrator can see and remove devices in the admin.
"""

from __future__ import annotations

from io import BytesIO
from typing import Any

import django_otp
from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils.safestring import mark_safe
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_totp.models import TOTPDevice


class OptionalOTPLoginForm(AdminAuthenticationForm):
    otp_token = forms.CharField(
        label=_("Code from your authenticator app"),
        required=False,
        max_length=8,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
        help_text=_("Only if you have set up two-factor authentication."),
    )

    error_messages = {
        **AdminAuthenticationForm.error_messages,
        # Fixed text with a link, no user input; marked safe when shown, in the language of the page.
        "not_staff": _(
            "This account has no access to the staff pages. Researchers read the registry's de-identified data over "
            'the research API with their API key: see <a href="/api/v1/docs/">the API documentation</a>.'
        ),
    }

    def confirm_login_allowed(self, user: Any) -> None:
        # Django's admin says "enter the correct username and password" to a non-staff user whose password is
        # right; a researcher deserves to know where their data is.
        if user.is_active and not user.is_staff:
            raise forms.ValidationError(
                mark_safe(str(self.error_messages["not_staff"])),  # noqa: S308 - our own text (above)
                code="not_staff",
            )
        super().confirm_login_allowed(user)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        user = self.get_user()
        if user is not None and django_otp.user_has_device(user, confirmed=True):
            token = (cleaned.get("otp_token") or "").replace(" ", "")
            device = django_otp.match_token(user, token) if token else None
            if device is None:
                raise forms.ValidationError(
                    _("Enter the current 6-digit code from your authenticator app."), code="otp_required"
                )
            # Marks the session as verified by this device (django_otp.middleware exposes user.is_verified()).
            django_otp.login(self.request, device)
        return cleaned


def _qr_svg(uri: str) -> str:
    import qrcode
    import qrcode.image.svg

    buffer = BytesIO()
    qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage, box_size=8).save(buffer)
    svg = buffer.getvalue().decode()
    return svg[svg.index("<svg") :]


class ConfirmForm(forms.Form):
    token = forms.CharField(
        label=_("6-digit code"),
        max_length=8,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )


@login_required
def two_factor(request: HttpRequest) -> HttpResponse:
    """Enrol, confirm or remove the signed-in staff member's authenticator."""
    if not request.user.is_staff:
        return redirect("admin:login")
    user = request.user
    confirmed = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    form = ConfirmForm(request.POST or None)
    message = None
    if confirmed is not None:
        if request.method == "POST" and form.is_valid():
            if confirmed.verify_token(form.cleaned_data["token"].replace(" ", "")):
                TOTPDevice.objects.filter(user=user).delete()
                message = gettext("Two-factor authentication is switched off.")
                confirmed = None
                form = ConfirmForm()
            else:
                form.add_error("token", gettext("That code is not valid now."))
    else:
        pending = TOTPDevice.objects.filter(user=user, confirmed=False).first()
        if pending is None:
            pending = TOTPDevice.objects.create(user=user, name="authenticator app", confirmed=False)
        if request.method == "POST" and form.is_valid():
            if pending.verify_token(form.cleaned_data["token"].replace(" ", "")):
                pending.confirmed = True
                pending.save(update_fields=["confirmed"])
                django_otp.login(request, pending)
                confirmed, message, form = pending, gettext("Two-factor authentication is on."), ConfirmForm()
            else:
                form.add_error("token", gettext("That code is not valid now: check the phone's clock and try again."))
        if confirmed is None:
            from django.contrib import admin

            return TemplateResponse(
                request,
                "registry/two_factor.html",
                {
                    **admin.site.each_context(request),
                    "title": gettext("Two-factor authentication"),
                    "form": form,
                    "enrolled": False,
                    "qr": mark_safe(_qr_svg(pending.config_url)),  # noqa: S308 - SVG we generated
                    "secret": pending.config_url.split("secret=")[1].split("&")[0],
                    "message": message,
                },
            )
    from django.contrib import admin

    return TemplateResponse(
        request,
        "registry/two_factor.html",
        {
            **admin.site.each_context(request),
            "title": gettext("Two-factor authentication"),
            "form": form,
            "enrolled": confirmed is not None,
            "message": message,
        },
    )
