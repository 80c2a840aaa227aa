"""FHIR R4 in and out: resources built from the registry's rows, the staff's read endpoints, answers posted by a
site's record system, and the researchers' Bulk Data export (see docs/architecture.md and README, "FHIR")."""
