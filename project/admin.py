"""The admin site itself: its titles, its login (with the optional second factor) and its autocomplete.

Each app registers its own model admins in its own admin.py; this module, autodiscovered last, sets what
belongs to the site as a whole.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.views.autocomplete import AutocompleteJsonView
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from django_otp.plugins.otp_totp import admin as otp_totp_admin
from django_otp.plugins.otp_totp.models import TOTPDevice

# Optional two-factor authentication: staff who enrolled an authenticator give its code at login (registry.otp).
from registry.access import pk_or_404
from registry.otp import OptionalOTPLoginForm

admin.site.login_form = OptionalOTPLoginForm
# In context: the patient pages name the registry their own way (outcomes/locale).
admin.site.site_header = pgettext_lazy("staff site", "Outcome registry")
admin.site.site_title = pgettext_lazy("staff site", "Outcome registry")
admin.site.index_title = _("Registry administration")


class LabelledAutocomplete(AutocompleteJsonView):
    """The admin's autocomplete, labelling each result with its model admin's `autocomplete_label` if it has
    one (patients: registry.admin.patient_label) instead of str()."""

    def serialize_result(self, obj: Any, to_field_name: str) -> dict[str, str]:
        label = getattr(self.model_admin, "autocomplete_label", str)
        return {"id": str(getattr(obj, to_field_name)), "text": label(obj)}


admin.site.autocomplete_view = lambda request: LabelledAutocomplete.as_view(admin_site=admin.site)(request)


def _not_found(request: Any, opts: Any, object_id: str) -> Any:
    """A missing record is a 404 on every admin page, as on the registry's own: Django's default is a redirect
    to the index with a message, which hides a wrong or tampered id behind a 302."""
    raise Http404(f"No {opts.verbose_name} with this ID.")


class TOTPDeviceAdmin(otp_totp_admin.TOTPDeviceAdmin):
    """django-otp's device admin, whose QR-code and key pages look the device up with .get(): an id that is not
    there (or past a 64-bit integer) was a 500."""

    def _device_or_404(self, pk: Any) -> None:
        get_object_or_404(TOTPDevice, pk=pk_or_404(pk))

    def config_view(self, request: Any, pk: Any) -> Any:
        self._device_or_404(pk)
        return super().config_view(request, pk)

    def qrcode_view(self, request: Any, pk: Any) -> Any:
        self._device_or_404(pk)
        return super().qrcode_view(request, pk)


if admin.site.is_registered(TOTPDevice):
    admin.site.unregister(TOTPDevice)
admin.site.register(TOTPDevice, TOTPDeviceAdmin)
# Autodiscovered last: every model admin of every app is registered by now.
for _model_admin in admin.site._registry.values():
    _model_admin._get_obj_does_not_exist_redirect = _not_found  # type: ignore[method-assign]
