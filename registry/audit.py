"""The audit trail: django-simple-history keeps a row for every create, change and delete of clinical data (who,
when, the full row, and the reason). On PostgreSQL the database itself makes those rows append-only: a trigger on
every historical table refuses UPDATE and DELETE, whatever the application does. The one exception is the
anonymisation of a withdrawn patient (registry.services.patient_anonymise), which may overwrite history (the
identity's, and the patient's identifying values wherever else history holds them, registry.erasure) inside its
own transaction after `SET LOCAL registry.allow_identity_erasure = 'on'`. Deleting history is refused always.

The triggers are (re)installed after every migrate, so a history table added later is covered without a migration.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.db import connection

from registry import csvsafe
from registry.access import is_registry_admin

FUNCTION = """
CREATE OR REPLACE FUNCTION registry_history_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND current_setting('registry.allow_identity_erasure', true) = 'on' THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'the audit trail is append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$ LANGUAGE plpgsql;
"""


def history_tables() -> list[str]:
    return sorted(
        m._meta.db_table
        for m in apps.get_models()
        if m.__name__.startswith("Historical") and m._meta.app_label in ("registry", "outcomes")
    )


def enforce_append_only_history(**kwargs: Any) -> None:
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(FUNCTION)
        for table in history_tables():
            quoted = connection.ops.quote_name(table)
            cursor.execute(f"DROP TRIGGER IF EXISTS registry_append_only ON {quoted}")
            cursor.execute(
                f"CREATE TRIGGER registry_append_only BEFORE UPDATE OR DELETE ON {quoted} "
                "FOR EACH ROW EXECUTE FUNCTION registry_history_append_only()"
            )


def audit_rows() -> Any:
    """Every history row of every clinical model, oldest first per model, as CSV-ready lists."""
    import json

    from django.core.serializers.json import DjangoJSONEncoder

    yield ["record", "object_id", "history_id", "change", "when", "by", "reason", "values"]
    for model in sorted(
        (
            m
            for m in apps.get_models()
            if m.__name__.startswith("Historical") and m._meta.app_label in ("registry", "outcomes")
        ),
        key=lambda m: m._meta.db_table,
    ):
        pk_name = model.instance_type._meta.pk.attname  # e.g. patient_id for an identity
        fields = [
            f.attname
            for f in model._meta.concrete_fields
            if not f.attname.startswith("history_") and f.attname != pk_name
        ]
        base = model._meta.object_name.removeprefix("Historical").lower()
        queryset = model.objects.order_by("history_id").select_related("history_user")
        for row in queryset.iterator(chunk_size=2000):
            values = {name: getattr(row, name) for name in fields}
            yield [
                base,
                getattr(row, pk_name),
                row.history_id,
                row.get_history_type_display(),
                row.history_date.isoformat(),
                row.history_user.get_username() if row.history_user_id else "(patient via link or system)",
                row.history_change_reason or "",
                json.dumps(values, cls=DjangoJSONEncoder, sort_keys=True),
            ]


def audit_export(request: Any) -> Any:
    """Registry administrator only: the whole audit trail as CSV, streamed."""
    from django.core.exceptions import PermissionDenied
    from django.http import StreamingHttpResponse

    if not is_registry_admin(request.user):
        raise PermissionDenied

    # Free text (change reasons, values typed by staff) is written through the shared writer, so a reason like
    # =HYPERLINK(...) reaches the administrator's spreadsheet as text.
    writer = csvsafe.Writer(csvsafe.Echo())
    response = StreamingHttpResponse((writer.writerow(r) for r in audit_rows()), content_type="text/csv")
    response["Content-Disposition"] = 'attachment; filename="registry-audit-trail.csv"'
    response["Cache-Control"] = "no-store"
    return response
