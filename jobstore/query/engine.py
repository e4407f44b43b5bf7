"""The query pipeline as the store runs it: compile (cached), check, execute, explain."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from .compile import INTERNAL, View, compile_query, ensure_pushable
from .ir import Query
from .prepared import PreparedQuery
from .run import Transform, execute

__all__ = ["explain_query", "run_query"]

ConnectionScope = Callable[[], AbstractContextManager[sqlite3.Connection]]


def run_query(
    scope: ConnectionScope,
    prepared: PreparedQuery,
    view: View = INTERNAL,
    transform: Transform | None = None,
) -> Any:
    """Answer a prepared query; a force_sql_filters refusal happens before any row is read."""
    options = prepared.options
    compiled = prepared.compiled(view)
    if options.force_sql_filters:
        ensure_pushable(options, compiled)
    with scope() as conn:
        return execute(conn, options, compiled, transform)


def explain_query(query: Query, view: View = INTERNAL) -> dict[str, Any]:
    """What would run where: the SQL, its parameters, and what Python would still do."""
    compiled = compile_query(query, view)
    return {
        "sql": compiled.sql,
        "params": list(compiled.params),
        "residual": [node.source for node in compiled.residual],
        "residual_reasons": list(compiled.residual_reasons),
        "order": "python" if compiled.order_in_python else "sql",
        "paging": "sql" if compiled.paged_in_sql else "python",
        "count": "sql" if compiled.counted_in_sql else ("python" if query.count else None),
    }
