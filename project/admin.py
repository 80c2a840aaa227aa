"""The admin site itself: its titles, its login (with the optional second factor) and its autocomplete.

Each app registers its own model admins in its own admin.py; this module, autodiscovered last, sets what
belongs to the site as a whole.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.views.autocomplete import AutocompleteJsonView
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

# Optional two-factor authentication: staff who enrolled an authenticator give its code at login (registry.otp).
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
