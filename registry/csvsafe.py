"""The one CSV writer of the registry: no cell a spreadsheet would run.

A spreadsheet opening a CSV runs a cell that starts with `=`, `+`, `-` or `@` as a formula (`=HYPERLINK(...)`,
`@SUM(...)`, `-2+3`), and Excel also strips a leading tab or carriage return and then does the same. OWASP's
advice for CSV injection is followed: such a cell is written with a single quote in front (`'=HYPERLINK(...)`),
which the spreadsheet shows as text and a program reading the CSV sees as one character more.

The rule, in one sentence: **a text cell is neutralised, a number never is.** Text is a Python `str` (or, for
the research exports, a column whose kind is `string`, whatever its values look like); numbers are `int`,
`float` and `Decimal` values (and `integer` and `number` columns), so a day of -3 or a score change of -12.5
stays a number that the spreadsheet, pandas or R reads as one. A text cell that happens to read "-3" (a code, a
site typed by staff) is text, and is neutralised like any other.

Every CSV the registry writes goes through here: the audit trail (`registry.audit`), the research exports
(`research.export`: Python's writer on SQLite, and `sql_text` inside PostgreSQL's COPY, so both backends write
the same file) and the data dictionary. It sits in the clinical core, the lowest floor with CSV to write, so
every floor above can import it.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

# What a spreadsheet runs (or, for tab and carriage return, strips and then runs) when a cell starts with it.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
QUOTE = "'"


def safe_cell(value: Any) -> Any:
    """A text cell that starts like a formula, with a single quote in front; anything else as it is."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return QUOTE + value
    return value


def sql_text(expression: str) -> str:
    """The same rule in PostgreSQL SQL, for a text expression inside COPY: `'` in front of a value starting with
    one of FORMULA_STARTS. Only our own SQL goes in (Django's compiled column), never a value."""
    text = f"CAST({expression} AS text)"
    # chr(9) and chr(13) are tab and carriage return; '''' is a one-character string holding a single quote.
    starts = ", ".join("chr(9)" if c == "\t" else "chr(13)" if c == "\r" else f"'{c}'" for c in FORMULA_STARTS)
    return f"CASE WHEN left({text}, 1) IN ({starts}) THEN '''' || {text} ELSE {text} END"


class Writer:
    """`csv.writer` with every text cell made safe. `format` (optional) turns each value into what is written
    after the check, so a number formatted as text (PostgreSQL's way of writing a float) stays a number."""

    def __init__(self, file: Any, *, format: Callable[[Any], Any] | None = None, **options: Any) -> None:
        self._writer = csv.writer(file, **options)
        # Python's writer quotes a field holding a line break only if the break is in its own line terminator, so
        # with "\n" a carriage return inside a cell would be written bare and split the row for a reader. A row
        # with one is written with every field quoted (as PostgreSQL's COPY quotes such a value).
        self._quoted = csv.writer(file, **{**options, "quoting": csv.QUOTE_ALL})
        self._format = format

    def cells(self, row: Iterable[Any]) -> list[Any]:
        if self._format is None:
            return [safe_cell(v) for v in row]
        return [self._format(safe_cell(v)) for v in row]

    def writerow(self, row: Iterable[Any]) -> Any:
        cells = self.cells(row)
        if any(isinstance(c, str) and "\r" in c for c in cells):
            return self._quoted.writerow(cells)
        return self._writer.writerow(cells)

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)

    def header(self, names: Sequence[str]) -> Any:
        """The header row: our own column names, written as they are."""
        return self._writer.writerow(names)


class DictWriter:
    """`csv.DictWriter` with every text cell made safe (the header is the caller's field names, as they are)."""

    def __init__(self, file: Any, fieldnames: Sequence[str], **options: Any) -> None:
        self._writer = Writer(file, **options)
        self.fieldnames = list(fieldnames)

    def writeheader(self) -> Any:
        return self._writer.header(self.fieldnames)

    def writerow(self, row: Mapping[str, Any]) -> Any:
        unknown = set(row) - set(self.fieldnames)
        if unknown:
            raise ValueError(f"dict contains fields not in fieldnames: {', '.join(sorted(unknown))}")
        return self._writer.writerow(row.get(name, "") for name in self.fieldnames)

    def writerows(self, rows: Iterable[Mapping[str, Any]]) -> None:
        for row in rows:
            self.writerow(row)


class Echo:
    """A file that hands back what is written, for a CSV streamed row by row."""

    def write(self, value: str) -> str:
        return value
