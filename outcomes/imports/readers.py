"""A clinic's file as rows of cells, numbered as a spreadsheet shows them (the header is row 1, the first record
row 2), and REDCap's data dictionary as REDCap writes it.

A CSV cell is text; an XLSX cell is text, a number or a date, as the workbook holds it. Blank cells are "".
"""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.utils.translation import gettext as _

# The columns of a REDCap data dictionary this import reads (REDCap's own headings, in any order).
DD_NAME = "Variable / Field Name"
DD_FORM = "Form Name"
DD_TYPE = "Field Type"
DD_CHOICES = "Choices, Calculations, OR Slider Labels"
DD_VALIDATION = "Text Validation Type OR Show Slider Number"
# Columns REDCap adds to a records export beside the project's fields.
REDCAP_SYSTEM = {
    "redcap_event_name",
    "redcap_repeat_instrument",
    "redcap_repeat_instance",
    "redcap_data_access_group",
    "redcap_survey_identifier",
    "redcap_arm",
}


class FileError(ValueError):
    """The file cannot be read as a table: one sentence saying why."""


@dataclass(frozen=True)
class Table:
    columns: list[str]
    rows: list[tuple[int, dict[str, Any]]]  # (row number, column -> cell)


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date() if value.time() == datetime.min.time() else value
    if isinstance(value, date):
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _table(header: list[Any], body: Any) -> Table:
    columns = [str(c).strip() if c is not None else "" for c in header]
    while columns and not columns[-1]:
        columns.pop()
    if not columns:
        raise FileError(_("The file has no header row."))
    if "" in columns:
        raise FileError(_("Column %(number)d of the header has no name.") % {"number": columns.index("") + 1})
    repeated = sorted({c for c in columns if columns.count(c) > 1})
    if repeated:
        raise FileError(_("The header names a column twice: %(names)s.") % {"names": ", ".join(repeated)})
    rows = []
    for number, cells in enumerate(body, start=2):
        values = [_cell(v) for v in cells]
        if not any(v != "" for v in values):
            continue  # a blank line: no record
        if len(values) > len(columns) and any(v != "" for v in values[len(columns) :]):
            raise FileError(_("Row %(row)d has more cells than the header has columns.") % {"row": number})
        values += [""] * (len(columns) - len(values))
        rows.append((number, dict(zip(columns, values, strict=False))))
    return Table(columns=columns, rows=rows)


def read_csv(content: bytes) -> Table:
    """A CSV file (comma-separated, UTF-8 with or without a byte-order mark, as REDCap and spreadsheets write)."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FileError(
            _("The file is not UTF-8 text (byte %(position)d): save it as CSV UTF-8.") % {"position": exc.start + 1}
        ) from None
    try:
        lines = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise FileError(_("The file is not a readable CSV file: %(error)s") % {"error": exc}) from None
    if not lines:
        raise FileError(_("The file is empty."))
    return _table(lines[0], lines[1:])


def read_xlsx(content: bytes) -> Table:
    """The first sheet of an Excel workbook (.xlsx)."""
    import openpyxl  # only for workbooks: a CSV import never loads it
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        book = openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, OSError, KeyError, ValueError) as exc:
        raise FileError(_("The file is not an Excel workbook (.xlsx): %(error)s") % {"error": exc}) from None
    try:
        sheet = book.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        header = next(rows, None)
        if header is None:
            raise FileError(_("The file is empty."))
        return _table(list(header), list(rows))
    finally:
        book.close()


def read_table(content: bytes, file_name: str) -> Table:
    if file_name.lower().endswith(".xlsx"):
        return read_xlsx(content)
    if content[:4] == b"PK\x03\x04":
        raise FileError(_("The file is a workbook: name it .xlsx, or save it as CSV."))
    return read_csv(content)


@dataclass(frozen=True)
class DictionaryField:
    name: str
    form: str
    type: str
    choices: dict[str, str] = field(default_factory=dict)  # code -> label
    validation: str = ""


@dataclass(frozen=True)
class DataDictionary:
    fields: dict[str, DictionaryField]

    def field_of(self, column: str) -> tuple[DictionaryField | None, str | None]:
        """The field behind an export column and, for a checkbox column (`name___code`), the choice code."""
        if column in self.fields:
            return self.fields[column], None
        if "___" in column:
            name, code = column.rsplit("___", 1)
            found = self.fields.get(name)
            if found is not None and found.type == "checkbox":
                return found, code
        return None, None

    def codes(self, column: str) -> set[str] | None:
        """The codes a cell of this column may hold, or None if any (text, notes, dates, sliders, calculations)."""
        found, choice = self.field_of(column)
        if found is None:
            return None
        if choice is not None or found.type in ("yesno", "truefalse"):
            return {"0", "1"}
        if found.type in ("radio", "dropdown"):
            return set(found.choices)
        return None


def parse_choices(text: str) -> dict[str, str]:
    """REDCap's "1, Label | 2, Label" (the label may hold commas; the code is before the first one)."""
    out = {}
    for part in text.split("|"):
        code, _sep, label = part.partition(",")
        if code.strip():
            out[code.strip()] = label.strip()
    return out


def read_dictionary(content: bytes) -> DataDictionary:
    """A REDCap data dictionary CSV (Project Setup → Data Dictionary → download)."""
    table = read_csv(content)
    missing = [c for c in (DD_NAME, DD_FORM, DD_TYPE, DD_CHOICES) if c not in table.columns]
    if missing:
        raise FileError(
            _("This is not a REDCap data dictionary: it has no column %(names)s.")
            % {"names": ", ".join(f"“{c}”" for c in missing)}
        )
    fields = {}
    for _number, row in table.rows:
        name = str(row[DD_NAME]).strip()
        kind = str(row[DD_TYPE]).strip().lower()
        choices = parse_choices(str(row[DD_CHOICES])) if kind in ("radio", "dropdown", "checkbox") else {}
        fields[name] = DictionaryField(
            name=name, form=str(row[DD_FORM]), type=kind, choices=choices, validation=str(row.get(DD_VALIDATION, ""))
        )
    return DataDictionary(fields=fields)
