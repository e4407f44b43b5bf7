"""How each field of the job object is stored: the one map shared by the row codec and the compiler.

Scalar fields live in typed columns (so SQLite can index them); every JSON
field lives in its own TEXT column holding JSON text (``null`` for None), so
that extracting one field never parses the others.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["COLUMNS", "GENERATED", "JSON_TYPES", "TIMESTAMP_FIELDS", "Column"]

#: The type names SQLite's ``json_type`` returns; a column's possible types use them too.
JSON_TYPES: frozenset[str] = frozenset(
    {"null", "true", "false", "integer", "real", "text", "array", "object"}
)
_ANY = JSON_TYPES


@dataclass(frozen=True, slots=True)
class Column:
    """A job field's column: its SQL name, how it is stored, and the JSON types it can hold."""

    name: str
    storage: Literal["int", "text", "bool", "json"]
    types: frozenset[str]


def _col(name: str, storage: Literal["int", "text", "bool", "json"], *types: str) -> Column:
    return Column(name, storage, frozenset(types) if types else _ANY)


#: job field -> column, in schema order.
COLUMNS: dict[str, Column] = {
    "id": _col("id", "int", "integer"),
    "message_ids": _col("message_ids", "json", "array"),
    "method": _col("method", "text", "text"),
    "arguments": _col("arguments", "json", "array"),
    "transient": _col("transient", "bool", "true", "false"),
    "description": _col("description", "text", "text", "null"),
    "abortable": _col("abortable", "bool", "true", "false"),
    "logs_path": _col("logs_path", "text", "text", "null"),
    "logs_excerpt": _col("logs_excerpt", "text", "text", "null"),
    "progress": _col("progress", "json", "object"),
    "result": _col("result", "json"),
    "result_encoding_error": _col("result_encoding_error", "json"),
    "error": _col("error", "text", "text", "null"),
    "exception": _col("exception", "text", "text", "null"),
    "exc_info": _col("exc_info", "json", "object", "null"),
    "state": _col("state", "text", "text"),
    "time_started": _col("time_started", "text", "text", "null"),
    "time_finished": _col("time_finished", "text", "text", "null"),
    "credentials": _col("credentials", "json", "object", "null"),
}

#: Sub-paths of JSON fields that also exist as indexed generated columns.
#: (field, key) -> column; the compiler reads these instead of json_extract.
GENERATED: dict[tuple[str, str], Column] = {
    ("progress", "percent"): _col("progress_percent", "int", "integer", "null"),
}

#: Fields holding timestamps in the fixed-width UTC text form (so text order is time order,
#: and ``.$date`` comparisons on them run in SQL as text comparisons).
TIMESTAMP_FIELDS: frozenset[str] = frozenset({"time_started", "time_finished"})
