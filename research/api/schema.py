"""OpenAPI post-processing: every research operation documents 400 (unknown parameter or invalid value), 401
(no or bad key), 403 (not a research key), 414 (request line too long) and 429 (rate limit, with Retry-After);
query parameters are stated as strictly as the views check them (types, enums, bounds, patterns); a list's CSV
is described as rows under its header; the SPSS and Stata files are binary (drf-spectacular would describe them
with the JSON rows' schema)."""

from __future__ import annotations

from typing import Any

from research.deid import WIDE_FIXED
from research.dictionary import CSV_FIELDS
from research.labelled import FORMATS

_ERROR = {
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
}

RESPONSES = {
    "400": "An unknown parameter or an invalid value; the body names each.",
    "401": "No API key, or an invalid, revoked or expired one (`Authorization: Token <key>`).",
    "403": "The credentials are not a researcher API key.",
    "414": "The request line is longer than the server reads (gunicorn: 4094 bytes; a proxy may set less): send "
    "fewer or shorter parameters.",
    "429": "Rate limit exceeded: RESEARCH_RATE_LIMIT requests per key (default 300/minute) and "
    "RESEARCH_CSV_RATE_LIMIT file exports (CSV, SPSS, Stata together) per key (default 60/hour). Retry after the "
    "seconds in Retry-After.",
}
_BINARY = {"schema": {"type": "string", "format": "binary"}}
_FILES_NOTE = (
    " With format=sav or format=dta: an SPSS or Stata file of the CSV's rows, with the data dictionary's variable "
    "and value labels, at most RESEARCH_LABELLED_MAX_ROWS rows (default 250,000; more is a 400 pointing to the CSV)."
)


def _filter_schema(f: Any) -> dict[str, Any] | None:
    """What a filter of research/api/filters.py accepts, as the JSON schema of its query parameter."""
    import django_filters

    from research.api.filters import IntegerFilter

    if isinstance(f, django_filters.MultipleChoiceFilter):
        items: dict[str, Any] = {"type": "string"}
        choices = [str(c[0]) for c in f.extra.get("choices", [])]
        if choices:  # `site` has none here: its choices are the key's sites, known per request
            items["enum"] = sorted(choices)
        return {"type": "array", "items": items}
    if isinstance(f, IntegerFilter):
        bounds = {k: f.extra[v] for k, v in (("minimum", "min_value"), ("maximum", "max_value")) if v in f.extra}
        return {"type": "integer", **bounds}
    if isinstance(f, django_filters.NumberFilter):
        return {"type": "number"}
    return None


def _tighten_parameters(path: str, operation: dict[str, Any]) -> None:
    """The query parameters as strict as the views: filters with their real types, enums and bounds (the django-filter
    extension says "number" for whole-number filters and drops their bounds), page_size within its range."""
    from research.api.filters import EpisodeFilterSet, ScoreFilterSet
    from research.api.views import ResearchCursorPagination

    # The score lists filter on scores too; every other list and both summaries on the episode's covariates.
    filters = (ScoreFilterSet if path.startswith("/api/v1/scores/") else EpisodeFilterSet).base_filters
    for parameter in operation.get("parameters", []):
        if parameter.get("in") != "query":
            continue
        name = parameter["name"]
        if name == "page_size":
            parameter["schema"] = {"type": "integer", "minimum": 1, "maximum": ResearchCursorPagination.max_page_size}
        elif name in filters and (tight := _filter_schema(filters[name])) is not None:
            parameter["schema"] = tight
            if tight["type"] == "array":
                parameter.update(style="form", explode=True)


def _csv_rows(schemas: dict[str, Any], json_schema: dict[str, Any]) -> dict[str, Any] | None:
    """The JSON schema of a list's CSV, read as rows keyed by the header: the page's row schema without the nested
    lists (a CSV has one level), every column in every row, nothing else."""
    page = schemas.get(json_schema.get("$ref", "").rsplit("/", 1)[-1], {})
    row_ref = page.get("properties", {}).get("results", {}).get("items", {}).get("$ref")
    if not row_ref:
        return None
    row_name = row_ref.rsplit("/", 1)[-1]
    row = schemas[row_name]
    scalar = {k: v for k, v in row.get("properties", {}).items() if v.get("type") not in ("array", "object")}
    csv_row = {
        "type": "object",
        "description": f"One CSV row of {row_name}: the header's columns, the nested lists left out.",
        "properties": scalar,
        "required": [k for k in row.get("required", []) if k in scalar],
        "additionalProperties": False,
    }
    schemas[f"{row_name}CsvRow"] = csv_row
    return {"type": "array", "items": {"$ref": f"#/components/schemas/{row_name}CsvRow"}}


_TIER_REFUSAL = {
    "type": "object",
    "description": "A summary-tier key asked for row-level data: its tier and what it may read.",
    "properties": {
        "detail": {"type": "string"},
        "tier": {"type": "string", "enum": ["summary", "rows"]},
        "may_read": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["detail", "tier", "may_read"],
}
# Aggregates, readable with either tier; every other research path is row-level (rows tier only).
_AGGREGATE_PATHS = ("/api/v1/summaries/", "/api/v1/dictionary/", "/api/v1/datapackage/")


def add_research_responses(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas["ResearchError"] = _ERROR
    schemas["TierRefusal"] = _TIER_REFUSAL
    schemas["DictionaryCsvRow"] = {
        "type": "object",
        # Every row names its variable; unit, description and codes are empty where a variable has none.
        "properties": {
            name: {"type": "string", **({"nullable": True} if name in ("unit", "description", "codes") else {})}
            for name in CSV_FIELDS
        },
        "required": list(CSV_FIELDS),
        "additionalProperties": False,
    }
    # A wide row carries the columns of the chosen instruments and keys only: just the fixed ones are required.
    for name in ("WideScore", "WideScoreRow"):
        if name in schemas and "required" in schemas[name]:
            fixed = {c.name for c in WIDE_FIXED}
            schemas[name]["required"] = [f for f in schemas[name]["required"] if f in fixed]
    for path, operations in result.get("paths", {}).items():
        if not path.startswith("/api/v1/") or path.startswith("/api/v1/schema"):
            continue
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            ok = responses.get("200", {})
            files = [f.media_type for f in FORMATS.values() if f.media_type in ok.get("content", {})]
            _tighten_parameters(path, operation)
            content = ok.get("content", {})
            if "{" in path:  # one record is JSON only (a file format or CSV there is a 400)
                for media_type in [*files, "text/csv"]:
                    content.pop(media_type, None)
                files = []
            elif "text/csv" in content:  # a CSV is rows under a header, not the JSON page
                rows = (
                    {"type": "array", "items": {"$ref": "#/components/schemas/DictionaryCsvRow"}}
                    if path.startswith("/api/v1/dictionary")
                    else _csv_rows(schemas, content.get("application/json", {}).get("schema", {}))
                )
                if rows:
                    content["text/csv"] = {"schema": rows}
            for media_type in files:
                ok["content"][media_type] = dict(_BINARY)
            if files and _FILES_NOTE not in ok.get("description", ""):
                ok["description"] = (ok.get("description", "") + _FILES_NOTE).strip()
            if "{" in path:  # a detail endpoint: an unknown id, or one outside the key's sites
                responses.setdefault(
                    "404",
                    {
                        "description": "No such record among those the key may read.",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ResearchError"}}},
                    },
                )
            if not path.startswith(_AGGREGATE_PATHS):
                responses.setdefault(
                    "403",
                    {
                        "description": RESPONSES["403"] + " Or a summary-tier key: row-level data needs a rows key; "
                        "the body names the key's tier and what it may read.",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "anyOf": [
                                        {"$ref": "#/components/schemas/ResearchError"},
                                        {"$ref": "#/components/schemas/TierRefusal"},
                                    ]
                                }
                            }
                        },
                    },
                )
            for status, description in RESPONSES.items():
                schema = (
                    {"type": "object", "additionalProperties": {}, "description": "parameter -> messages"}
                    if status == "400"
                    else {"$ref": "#/components/schemas/ResearchError"}
                )
                response: dict[str, Any] = {"description": description}
                if status != "414":  # the server's own page, before the registry sees the request
                    response["content"] = {"application/json": {"schema": schema}}
                if status == "429":
                    response["headers"] = {
                        "Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."}
                    }
                responses.setdefault(status, response)
    return result
