"""Celery tasks of the FHIR floor: thin adapters that call one service (see STYLE.md)."""

from __future__ import annotations

from celery import shared_task

from interop import services


@shared_task(name="interop.tasks.build_bulk_export")
def build_bulk_export(export_id: str) -> dict[str, object]:
    """Build one `$export`'s NDJSON files; a finished export is left as it is (safe to redeliver)."""
    export = services.bulk_export_build(export_id=export_id)
    return {"status": export.status, "files": export.files}
