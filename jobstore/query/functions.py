"""Python functions registered on every SQLite connection, so SQL can use Python's exact meaning.

``re.match`` and ``str.casefold`` have no exact SQLite equivalent; running the
Python function inside SQLite keeps the filtering (and the index-free scan) in
the database while giving exactly the evaluator's answer.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from .caches import compile_pattern

__all__ = ["CANONICAL_JSON", "CASEFOLD", "REGEXP_MATCH", "canonical_json_text", "register"]

REGEXP_MATCH = "jobstore_regexp"
CASEFOLD = "jobstore_casefold"
CANONICAL_JSON = "jobstore_canonical_json"


def _regexp_match(pattern: str, value: Any) -> int | None:
    """1 when ``re.match(pattern, value)`` matches a string value, else 0."""
    if not isinstance(value, str) or not isinstance(pattern, str):
        return 0
    return 1 if compile_pattern(pattern).match(value) is not None else 0


def _casefold(value: Any) -> Any:
    return value.casefold() if isinstance(value, str) else value


def canonical_json_text(value: Any) -> str:
    """The text QUERY.md orders lists and objects by."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _canonical_json(text: Any) -> Any:
    if not isinstance(text, str):
        return None
    return canonical_json_text(json.loads(text))


def register(conn: sqlite3.Connection) -> None:
    """Register jobstore's SQL functions on ``conn`` (idempotent)."""
    conn.create_function(REGEXP_MATCH, 2, _regexp_match, deterministic=True)
    conn.create_function(CASEFOLD, 1, _casefold, deterministic=True)
    conn.create_function(CANONICAL_JSON, 1, _canonical_json, deterministic=True)
