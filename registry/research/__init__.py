"""The research side of the registry: API keys, pseudonyms and the de-identified, read-only REST API.

Researchers reach the data only through `registry.research.api` with an API key that a registry administrator
created in the admin. Which rows a key may read is decided by one function, `registry.research.access.
research_queryset`; what a row may say (pseudonyms, days from index, age at index with 90+ pooled, no free text)
is decided by the column lists in `registry.research.deid`. JSON, CSV, the data dictionary and the summaries
are all built from those two places.

The models live in `registry.research.models` and belong to the `registry` app (registry/models.py imports
them), so their tables are `registry_apikey`, `registry_subjectpseudonym` and `registry_episodepseudonym`.
"""
