"""``explain``: what a query would run where (SQL, parameters, what Python still does)."""

from __future__ import annotations

from typing import Any

from .compile import INTERNAL, View, compile_query
from .ir import Query

__all__ = ["explain_query"]


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
        "count": "sql" if compiled.counted_in_sql else ("python" if query.options.count else None),
    }
