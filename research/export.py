"""CSV streamed at database speed, in constant memory.

On PostgreSQL the rows never pass through Python objects: the very queryset the JSON endpoint pages through
(scoped, filtered, annotated) is compiled by Django to SQL with `%s` placeholders, wrapped in
`COPY (...) TO STDOUT WITH (FORMAT csv, HEADER)` and handed to psycopg with its parameters. psycopg binds them
itself (COPY takes no server-side parameters, so psycopg quotes each value as a literal with its adapters);
nothing a client sends is ever formatted into the SQL by this code. The only names put into the SQL here are
the column names of `research.deid`, quoted by the backend. The server's CSV arrives in pieces and is
passed on in blocks of about 64 kB as it arrives, so memory stays flat whatever the size.

On SQLite (the demo) the same queryset is iterated in chunks and written by Python's csv writer, formatting
values as PostgreSQL does (shortest round-trip floats, `true`/`false`, empty for NULL), so the two backends give
the same file.

Text columns are made safe for spreadsheets by the registry's one CSV rule (`registry.csvsafe`: a leading `=`,
`+`, `-`, `@`, tab or carriage return gets a single quote in front; numbers never do): in SQL inside COPY, by the
shared writer on SQLite.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Any

from django.db import connections, models
from django.http import StreamingHttpResponse

from registry import csvsafe
from research.deid import Column

BLOCK_SIZE = 64 * 1024
ITERATOR_CHUNK = 2000


def copy_sql(queryset: models.QuerySet, columns: Sequence[Column], order_key: str) -> tuple[str, tuple[Any, ...]]:
    """The COPY statement and its parameters for a values() queryset selecting the columns' aliases and
    `order_key`. Booleans are written as true/false (pandas and R read those; PostgreSQL would write t/f)."""
    connection = connections[queryset.db]
    qn = connection.ops.quote_name
    sql, params = queryset.order_by().query.sql_with_params()
    select = []
    for column in columns:
        source = f"q.{qn(column.alias)}"
        if column.kind == "boolean":
            source = f"CASE WHEN {source} THEN 'true' WHEN NOT {source} THEN 'false' END"
        elif column.kind == "string":
            source = csvsafe.sql_text(source)
        select.append(f"{source} AS {qn(column.name)}")
    # Only Django's compiled SQL (placeholders, no values) and our own quoted column names go into the text.
    statement = (
        f"COPY (SELECT {', '.join(select)} FROM ({sql}) AS q ORDER BY q.{qn(order_key)}) "  # noqa: S608
        "TO STDOUT WITH (FORMAT csv, HEADER true)"
    )
    return statement, tuple(params)


def _stream_copy(queryset: models.QuerySet, columns: Sequence[Column], order_key: str) -> Iterator[bytes]:
    statement, params = copy_sql(queryset, columns, order_key)
    connection = connections[queryset.db]
    # cursor.cursor is psycopg's own cursor: Django's wrapper has no copy().
    with connection.cursor() as cursor, cursor.cursor.copy(statement, params) as copy:
        block = bytearray()
        for data in copy:
            block += data
            if len(block) >= BLOCK_SIZE:
                yield bytes(block)
                block.clear()
        if block:
            yield bytes(block)


def csv_cell(value: Any) -> Any:
    """A value as PostgreSQL's COPY writes it in CSV."""
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    if isinstance(value, Decimal):
        return str(value)
    return value


def _stream_writer(queryset: models.QuerySet, columns: Sequence[Column]) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csvsafe.Writer(buffer, format=csv_cell, lineterminator="\n")
    writer.header([c.name for c in columns])
    aliases = [c.alias for c in columns]
    # By kind, as COPY does: a string column's value is text (made safe), a number column's is never touched.
    text = [c.kind == "string" for c in columns]
    for row in queryset.iterator(chunk_size=ITERATOR_CHUNK):
        writer.writerow(
            [str(row[a]) if t and row[a] is not None else row[a] for a, t in zip(aliases, text, strict=True)]
        )
        if buffer.tell() >= BLOCK_SIZE:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode()


def csv_stream(queryset: models.QuerySet, columns: Sequence[Column], order_key: str) -> Iterator[bytes]:
    """The rows of a values() queryset (selecting the columns' aliases and `order_key`) as CSV with a header."""
    # The rows are read while the response streams, after the view has returned: keep the database chosen now
    # (the research replica, if there is one).
    queryset = queryset.using(queryset.db)
    if connections[queryset.db].vendor == "postgresql":
        return _stream_copy(queryset, columns, order_key)
    return _stream_writer(queryset.order_by(order_key), columns)


def csv_response(
    queryset: models.QuerySet, columns: Sequence[Column], order_key: str, filename: str
) -> StreamingHttpResponse:
    response = StreamingHttpResponse(csv_stream(queryset, columns, order_key), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response
