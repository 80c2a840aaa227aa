"""The audit trail: django-simple-history keeps a row for every create, change and delete of clinical data (who,
when, the full row, and the reason). On PostgreSQL the database itself makes those rows append-only: a trigger on
every historical table refuses UPDATE and DELETE, whatever the application does. The one exception is the
anonymisation of a withdrawn patient (registry.services.patient_anonymise), which may overwrite the identity's
history inside its own transaction after `SET LOCAL registry.allow_identity_erasure = 'on'`.

The triggers are (re)installed after every migrate, so a history table added later is covered without a migration.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.db import connection

FUNCTION = """
CREATE OR REPLACE FUNCTION registry_history_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND TG_TABLE_NAME = 'registry_historicalpatientidentity'
       AND current_setting('registry.allow_identity_erasure', true) = 'on' THEN
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
