from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InteropConfig(AppConfig):
    """FHIR R4: resources out (staff and research), QuestionnaireResponses in (a site's integration key)."""

    name = "interop"
    verbose_name = _("Interoperability (FHIR)")
