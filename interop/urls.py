"""/fhir/: FHIR R4 (interop.views; who may call what is in its docstring)."""

from __future__ import annotations

from django.urls import path

from interop import views

urlpatterns = [
    path("metadata", views.metadata, name="fhir-metadata"),
    path("Questionnaire", views.questionnaire_search, name="fhir-questionnaire-search"),
    path("Questionnaire/<str:fhir_id>", views.questionnaire_read, name="fhir-questionnaire-read"),
    path("Patient/<str:registry_id>", views.patient_read, name="fhir-patient-read"),
    path("QuestionnaireResponse", views.questionnaire_response, name="fhir-questionnaire-response"),
    path("Observation", views.observation_search, name="fhir-observation-search"),
    path("$export", views.export_kickoff, name="fhir-export"),
    path("$export-status/<uuid:export_id>", views.export_status, name="fhir-export-status"),
    path("$export-files/<uuid:export_id>/<str:resource_type>.ndjson", views.export_file, name="fhir-export-file"),
]
