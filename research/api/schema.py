"""OpenAPI post-processing: every research operation documents 400 (unknown parameter or invalid value), 401
(no or bad key), 403 (not a research key) and 429 (rate limit, with Retry-After); the SPSS and Stata files are
binary (drf-spectacular would describe them with the JSON rows' schema)."""

from __future__ import annotations

from typing import Any

from research.deid import WIDE_FIXED
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
    "429": "Rate limit exceeded: RESEARCH_RATE_LIMIT requests per key (default 300/minute) and "
    "RESEARCH_CSV_RATE_LIMIT file exports (CSV, SPSS, Stata together) per key (default 60/hour). Retry after the "
    "seconds in Retry-After.",
}
_BINARY = {"schema": {"type": "string", "format": "binary"}}
_FILES_NOTE = (
    " With format=sav or format=dta: an SPSS or Stata file of the CSV's rows, with the data dictionary's variable "
    "and value labels, at most RESEARCH_LABELLED_MAX_ROWS rows (default 250,000; more is a 400 pointing to the CSV)."
)


def add_research_responses(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas["ResearchError"] = _ERROR
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
            if "{" in path:  # one record is JSON only (a file format there is a 400)
                for media_type in files:
                    del ok["content"][media_type]
                files = []
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
            for status, description in RESPONSES.items():
                schema = (
                    {"type": "object", "additionalProperties": {}, "description": "parameter -> messages"}
                    if status == "400"
                    else {"$ref": "#/components/schemas/ResearchError"}
                )
                response: dict[str, Any] = {
                    "description": description,
                    "content": {"application/json": {"schema": schema}},
                }
                if status == "429":
                    response["headers"] = {
                        "Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."}
                    }
                responses.setdefault(status, response)
    return result
