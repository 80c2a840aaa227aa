"""What schemathesis needs beyond the OpenAPI schema to test the research API in `.ci/run`
(`SCHEMATHESIS_HOOKS=tests.contract.schemathesis_hooks`).

- **CSV responses are validated like JSON ones.** The schema describes a list's CSV as rows keyed by its header
  (`TreatmentCsvRow`, ...: every scalar column, nothing else; research/api/schema.py). The deserializer below reads
  the CSV into such rows, turning each cell into the type its column's schema names (an empty cell is null), so
  schemathesis' `response_schema_conformance` checks every row of every CSV it receives: a missing or extra column,
  a text in a number column or a value outside a code list fails the run.
- **`csv_cells_are_inert`**: no text cell of a CSV starts the way a spreadsheet would run it (`=`, `+`, `-`, `@`,
  tab, carriage return) without the leading quote of registry/csvsafe.py.
- **Score keys follow their instrument.** The schema lists every instrument and every numeric key, but which key
  belongs to which instrument is a rule OpenAPI cannot state, so most generated pairs would be refused (a 400, but
  then the valid space goes untested). Where a generated query names an instrument and a key of another one, the
  key is replaced with one of that instrument's own (chosen from the generated key, so it stays deterministic).
  The refusal of a mismatched pair is tested in tests/research.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import schemathesis

import scoring
from registry.csvsafe import FORMULA_STARTS, QUOTE


def _resolve(raw: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        node: Any = raw
        for part in schema["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        schema = node
    return schema


def _types(raw: dict[str, Any], schema: dict[str, Any]) -> set[str]:
    """The JSON types a column's schema allows, through $ref, allOf and oneOf (enums are typed by their values)."""
    schema = _resolve(raw, schema)
    found: set[str] = set()
    if "type" in schema:
        found.add(schema["type"])
    elif "enum" in schema:
        found |= {"integer" if isinstance(v, int) else "string" for v in schema["enum"] if v is not None}
    for part in [*schema.get("allOf", []), *schema.get("oneOf", []), *schema.get("anyOf", [])]:
        found |= _types(raw, part)
    return found


def _cell(value: str, types: set[str]) -> Any:
    """A CSV cell as the value of its column's type; a cell that is not one stays text (and fails the schema)."""
    if value == "":
        return None
    if "boolean" in types and value in ("true", "false"):
        return value == "true"
    if "integer" in types:
        try:
            return int(value)
        except ValueError:
            pass
    if "number" in types:
        try:
            return float(value)
        except ValueError:
            pass
    return value


def csv_rows(raw_schema: dict[str, Any], path: str, text: str) -> list[dict[str, Any]]:
    """The rows of a CSV answer of `path`, keyed by the header, each cell typed by the schema's CSV row."""
    content = raw_schema["paths"][path]["get"]["responses"].get("200", {}).get("content", {})
    if "text/csv" not in content:
        raise AssertionError(f"a CSV answer from {path}, whose schema offers none")
    rows = content["text/csv"]["schema"]
    properties = _resolve(raw_schema, rows["items"]).get("properties", {})
    reader = csv.reader(io.StringIO(text))
    header = next(reader, [])
    out = []
    for number, cells in enumerate(reader, start=2):
        if len(cells) != len(header):
            raise ValueError(f"CSV line {number} has {len(cells)} cells under a header of {len(header)}")
        out.append(
            {
                name: _cell(value, _types(raw_schema, properties[name])) if name in properties else value
                for name, value in zip(header, cells, strict=True)
            }
        )
    return out


@schemathesis.deserializer("text/csv")
def deserialize_csv(ctx: Any, response: Any) -> list[dict[str, Any]]:
    return csv_rows(ctx.operation.schema.raw_schema, ctx.operation.path, response.content.decode("utf-8"))


def live_formulas(rows: list[dict[str, Any]]) -> list[str]:
    """Every text cell a spreadsheet would run, as `column: value`."""
    return [
        f"{name}: {value!r}"
        for row in rows
        for name, value in row.items()
        if isinstance(value, str) and value.startswith(FORMULA_STARTS) and not value.startswith(QUOTE)
    ]


@schemathesis.check
def csv_cells_are_inert(ctx: Any, response: Any, case: Any) -> None:
    if response.status_code != 200 or not response.headers.get("content-type", [""])[0].startswith("text/csv"):
        return
    raw = case.operation.schema.raw_schema
    found = live_formulas(csv_rows(raw, case.operation.path, response.content.decode("utf-8")))
    if found:
        raise AssertionError(f"CSV cells a spreadsheet would run: {', '.join(found[:5])}")


def _matching_key(instrument: str, key: str) -> str:
    keys = sorted(o.key for o in scoring.INSTRUMENTS[instrument].outputs if o.kind != "category")
    return key if key in keys else keys[sum(map(ord, key)) % len(keys)]


def key_of_its_instrument(query: dict[str, Any] | None) -> dict[str, Any] | None:
    """The query with a key of the named instrument (one instrument; several, or none, are left as generated)."""
    if not query or not isinstance(query.get("instrument"), str) or query["instrument"] not in scoring.INSTRUMENTS:
        return query
    key = query.get("key")
    if isinstance(key, str):
        return {**query, "key": _matching_key(query["instrument"], key)}
    return query


@schemathesis.hook
def map_query(ctx: Any, query: dict[str, Any] | None) -> dict[str, Any] | None:
    if ctx.operation is not None and ctx.operation.path == "/api/v1/summaries/scores/":
        return key_of_its_instrument(query)
    return query
