"""The research floor: API keys, pseudonyms and the de-identified, read-only REST API.

Researchers reach the data only through `research.api` with an API key that a registry administrator
created in the admin. Which rows a key may read is decided by one function, `research.access.
research_queryset`; what a row may say (pseudonyms, days from index, age at index with 90+ pooled, no free text)
is decided by the column lists in `research.deid`. JSON, CSV, the data dictionary and the summaries
are all built from those two places.

A Django app of its own, on the floor above the clinical core (`registry`) and follow-up (`outcomes`): it reads
both and neither imports it (docs/architecture.md). Its models kept the tables they had in the registry app:
`registry_apikey`, `registry_subjectpseudonym` and `registry_episodepseudonym`.
"""
