"""The researchers' read-only REST API under /api/v1/ (see urls.py for the endpoints)."""
