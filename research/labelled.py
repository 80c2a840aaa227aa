"""SPSS `.sav` and Stata `.dta` files of a research dataset, labelled from the data dictionary.

The rows are the CSV's: the same scoped, filtered, annotated values() queryset (research.deid), read in the
same order. What the files add is taken from each column's dictionary entry (`Column.dictionary()`), so a file
and the dictionary cannot disagree:

- the variable label is the entry's `label` (at most 80 characters, Stata's limit);
- a coded column (`codes`: sex, joint, product type, timepoint, instrument, ...) is stored as its number with
  the code's label as value label (Stata labels numbers only; SPSS the same, for one layout in both files);
  a boolean is 0/1 labelled No/Yes;
- integers are whole numbers, numbers are doubles, anything else a string; missing is system-missing (SPSS) or
  `.` (Stata) for numbers and empty for strings, as the CSV's empty cell;
- in a .dta a name longer than Stata's 32 characters is the entry's `stata_name`.

Memory: pyreadstat writes a whole data frame at once (it has no append), so unlike the CSV the rows are held in
memory. They are read in chunks into compact columns (codes and integers as 32-bit numbers, each distinct string
kept once), and an export of more than RESEARCH_LABELLED_MAX_ROWS rows is refused with a 400 that names the
limit and the streamed CSV. The file is written to a temporary file that is unlinked as soon as it is open again
for reading, so it leaves nothing on disk, however the response ends.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import models
from django.http import FileResponse

from research.deid import Column

if TYPE_CHECKING:
    import pandas as pd

# pandas and pyreadstat are imported when a file is built, not when the API loads: a web process that never
# writes one does not carry them (pandas alone is some 40 MB).

CHUNK = 5000


@dataclass(frozen=True)
class FileFormat:
    name: str
    label: str
    media_type: str
    extension: str


SAV = FileFormat("sav", "SPSS", "application/x-spss-sav", "sav")
DTA = FileFormat("dta", "Stata", "application/x-stata-dta", "dta")
FORMATS = {f.name: f for f in (SAV, DTA)}

# SPSS's measurement level: ordered codes and grades are ordinal, other codes nominal, numbers scale.
ORDINAL = {"timepoint", "kl_grade", "grade", "relatedness"}
FILE_LABEL = "Registry research data, de-identified: {dataset}"  # SPSS allows 64 characters


class TooManyRows(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(limit)
        self.limit = limit


def _converter(entry: dict[str, Any]) -> Callable[[list[Any]], pd.Series]:
    """How one column's values become a compact pandas column, from its dictionary entry."""
    import numpy as np
    import pandas as pd

    if "codes" in entry:
        lookup = {code["value"]: code["code"] for code in entry["codes"]}
        name = entry["name"]

        def coded(values: list[Any]) -> pd.Series:
            try:
                return pd.Series(pd.array([None if v is None else lookup[v] for v in values], dtype="Int32"))
            except KeyError as exc:  # a value the dictionary does not list: a bug, never an unlabelled code
                raise ValueError(f"{name}: {exc.args[0]!r} is not among the dictionary's values") from None

        return coded
    if entry["type"] == "integer":
        return lambda values: pd.Series(pd.array(values, dtype="Int32"))
    if entry["type"] == "number":
        return lambda values: pd.Series(np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64))
    seen: dict[str, str] = {}  # each distinct string once (pseudonyms repeat on every row of a subject)

    def text(values: list[Any]) -> pd.Series:
        return pd.Series(np.array(["" if v is None else seen.setdefault(v, v) for v in values], dtype=object))

    return text


def data_frame(rows: models.QuerySet, columns: Sequence[Column], *, max_rows: int) -> pd.DataFrame:
    """The rows of a values() queryset (selecting the columns' aliases) as a typed frame named by column;
    TooManyRows past `max_rows`."""
    import pandas as pd

    entries = [c.dictionary() for c in columns]
    converters = [_converter(e) for e in entries]
    aliases = [c.alias for c in columns]
    parts: list[list[pd.Series]] = [[] for _ in columns]
    buffer: list[list[Any]] = [[] for _ in columns]

    def flush() -> None:
        for i, convert in enumerate(converters):
            parts[i].append(convert(buffer[i]))
            buffer[i].clear()

    count = 0
    for count, row in enumerate(rows.iterator(chunk_size=CHUNK), start=1):
        if count > max_rows:
            raise TooManyRows(max_rows)
        for i, alias in enumerate(aliases):
            buffer[i].append(row[alias])
        if count % CHUNK == 0:
            flush()
    flush()
    return pd.DataFrame(
        {c.name: pd.concat(parts[i], ignore_index=True) for i, c in enumerate(columns)},
    )


def _metadata(columns: Sequence[Column], names: dict[str, str]) -> dict[str, Any]:
    labels, value_labels, measure = {}, {}, {}
    for column in columns:
        entry = column.dictionary()
        name = names[column.name]
        labels[name] = entry["label"]
        if "codes" in entry:
            value_labels[name] = {code["code"]: code["label"] for code in entry["codes"]}
        if column.name in ORDINAL:
            measure[name] = "ordinal"
        elif "codes" in entry or entry["type"] == "string":
            measure[name] = "nominal"
        else:
            measure[name] = "scale"
    return {"column_labels": labels, "variable_value_labels": value_labels, "variable_measure": measure}


def write(frame: pd.DataFrame, columns: Sequence[Column], fmt: FileFormat, path: str, dataset: str) -> None:
    """Write `frame` (from data_frame) to `path` as .sav or .dta with the dictionary's labels."""
    import pyreadstat

    if fmt is DTA:
        names = {c.name: c.dictionary().get("stata_name", c.name) for c in columns}
        frame = frame.rename(columns=names)
    else:
        names = {c.name: c.name for c in columns}
    meta = _metadata(columns, names)
    file_label = FILE_LABEL.format(dataset=dataset)
    if fmt is SAV:
        # Row (bytecode) compression: the .sav every SPSS version reads, a fraction of the plain size.
        pyreadstat.write_sav(frame, path, file_label=file_label, row_compress=True, **meta)
    else:
        del meta["variable_measure"]  # SPSS only
        pyreadstat.write_dta(frame, path, file_label=file_label, **meta)


def labelled_response(
    rows: models.QuerySet, columns: Sequence[Column], fmt: FileFormat, dataset: str, filename: str
) -> FileResponse:
    """The rows as a labelled file download. TooManyRows past RESEARCH_LABELLED_MAX_ROWS."""
    # Read from the database chosen now (the research replica, if there is one), as the CSV does.
    frame = data_frame(rows.using(rows.db), columns, max_rows=settings.RESEARCH_LABELLED_MAX_ROWS)
    fd, path = tempfile.mkstemp(prefix="research-", suffix=f".{fmt.extension}")
    os.close(fd)
    try:
        write(frame, columns, fmt, path, dataset)
        del frame
        handle = open(path, "rb")  # noqa: SIM115 - FileResponse closes it when the response is done
    finally:
        os.unlink(path)  # the open handle keeps the data until it is closed; nothing stays on disk
    response = FileResponse(handle, as_attachment=True, filename=filename, content_type=fmt.media_type)
    response["Cache-Control"] = "no-store"
    return response
