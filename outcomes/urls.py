from django.urls import path

from outcomes import patient_views
from outcomes.texting import inbound

app_name = "outcomes"

urlpatterns = [
    path("q/", patient_views.questionnaire, name="patient_questionnaire"),
    path("q/<int:number>/", patient_views.page, name="patient_page"),
    path("q/summary/", patient_views.summary, name="patient_summary"),
    path("q/thanks/", patient_views.thanks, name="patient_thanks"),
    path("q/consent/", patient_views.consent_page, name="patient_consent"),
    path("language/", patient_views.language, name="patient_language"),
    path("tablet/done/", patient_views.tablet_done, name="patient_tablet_done"),
    path("tablet/end/", patient_views.tablet_end, name="patient_tablet_end"),
    path("texts/inbound/twilio/", inbound.twilio_inbound, name="texts_inbound_twilio"),
    path("optout/<str:token>/", patient_views.optout, name="patient_optout"),
    path("withdraw/<str:token>/", patient_views.withdraw, name="patient_withdraw"),
    path("<str:token>/", patient_views.start, name="patient_start"),
]
