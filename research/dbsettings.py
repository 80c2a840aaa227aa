"""PostgreSQL planner settings for one statement's transaction (SET LOCAL), where a registry-sized statement is
known to plan badly with the server's defaults. Elsewhere (SQLite) the block just runs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connections, transaction

# Names that may be set: each one is formatted into SQL, so only these, and only simple values.
ALLOWED = {"jit", "max_parallel_workers_per_gather", "work_mem"}


@contextmanager
def local_settings(using: str, **values: str | int) -> Iterator[None]:
    """Run the block in a transaction (the caller's, if one is open) with `values` SET LOCAL on PostgreSQL."""
    unknown = set(values) - ALLOWED
    if unknown:
        raise ValueError(f"Not a setting this helper sets: {', '.join(sorted(unknown))}")
    connection = connections[using]
    with transaction.atomic(using=using):
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                for name, value in values.items():
                    cursor.execute("SELECT set_config(%s, %s, true)", [name, str(value)])
        yield
