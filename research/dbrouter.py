"""Research reads from a PostgreSQL streaming replica, when one is configured.

`DATABASE_REPLICA_URL` adds the database alias "replica". Research API requests read from it once the request is
authenticated (the key lookup and the pseudonym assignment that precede the reads use the primary); everything
else, and every write, uses the primary. Without the setting this router changes nothing.

A replica lags the primary by a moment: a row entered a second ago may appear in an export a second later, but
never without its pseudonym, because released rows are joined to the pseudonym tables and a replica applies the
primary's transactions in commit order.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from typing import Any

from django.db import connections

REPLICA = "replica"
_research_reads: ContextVar[bool] = ContextVar("research_reads", default=False)


def replica_configured() -> bool:
    return REPLICA in connections.settings


def research_reads_begin() -> Token:
    return _research_reads.set(True)


def research_reads_end(token: Token) -> None:
    _research_reads.reset(token)


@contextmanager
def research_reads() -> Iterator[None]:
    """Reads inside this block go to the replica, if there is one."""
    token = research_reads_begin()
    try:
        yield
    finally:
        research_reads_end(token)


class ResearchReplicaRouter:
    def db_for_read(self, model: type, **hints: Any) -> str | None:
        if _research_reads.get() and replica_configured():
            return REPLICA
        return None  # the primary

    def db_for_write(self, model: type, **hints: Any) -> str | None:
        return None  # always the primary

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool | None:
        return True  # the replica is a copy of the primary: objects from either relate

    def allow_migrate(self, db: str, app_label: str, model_name: str | None = None, **hints: Any) -> bool | None:
        return False if db == REPLICA else None  # the replica follows the primary's schema by replication
