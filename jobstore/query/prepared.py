"""Repeated queries: parse and compile results remembered by the exact input.

Clients poll: the same ``[["id", "=", 7]]`` with ``{"get": True}`` every
second while a job runs, the same count of RUNNING jobs for a dashboard. For
such a query validation and compilation cost more than SQLite's answer, so
their results are kept, keyed by a *fingerprint* of the input that equals
another only when both inputs parse to the same query.

The fingerprint is the input's typed key (``plainkey``): equal only for the
same plain data with the same types; anything else is parsed every time.
"""

from __future__ import annotations

import contextlib
from collections.abc import Hashable
from typing import Any

from ..access import Caller
from .compile import INTERNAL, CompiledQuery, View, compile_query
from .ir import Query
from .parse import parse_query
from .plainkey import add_plain

__all__ = ["Prepared", "clear", "fingerprint", "prepare"]

#: Queries remembered (each holds one query's trees: ~2 KiB), and fingerprints of
#: inputs seen once; beyond it the oldest entry goes.
MEMO_SIZE = 1024
#: Views (distinct callers' visibility) kept per query.
MAX_VIEWS = 64
_memo: dict[Hashable, Prepared] = {}
_seen: dict[Hashable, None] = {}  # inputs seen once (insertion-ordered: oldest first)


def fingerprint(filters: Any, options: Any, credentials: Any = None) -> tuple[Any, ...] | None:
    """A hashable key that equals another only for the same plain input; None if not plain.

    The caller's ``credentials`` are part of it: callers never share entries,
    so how fast a query answers never tells one caller what another asked.
    """
    out: list[Any] = []
    if not add_plain(filters, out) or not add_plain(options, out):
        return None
    if type(credentials) is Caller:  # frozen and hashable: itself is its key
        out.append(Caller)
        out.append(credentials)
    elif not add_plain(credentials, out):
        return None
    return tuple(out)


class Prepared:
    """One query's parse, and its compilation for each view it was run under."""

    __slots__ = ("_by_view", "_internal", "query")

    def __init__(self, query: Query) -> None:
        self.query = query
        self._internal: CompiledQuery | None = None
        self._by_view: dict[View, CompiledQuery] = {}

    def compiled(self, view: View) -> CompiledQuery:
        """``compile_query(self.query, view)``, computed once per view."""
        if view is INTERNAL:  # the daemon's own queries: no hashing of the view
            if self._internal is None:
                self._internal = compile_query(self.query, view)
            return self._internal
        compiled = self._by_view.get(view)
        if compiled is None:
            if len(self._by_view) >= MAX_VIEWS:
                self._by_view.clear()
            compiled = self._by_view[view] = compile_query(self.query, view)
        return compiled


def prepare(filters: Any, options: Any, credentials: Any = None) -> Prepared:
    """Parse ``filters``/``options`` (QueryError if malformed), remembering repeated inputs.

    ``credentials`` only partition the memo (see ``fingerprint``); they are not checked here.
    """
    key = fingerprint(filters, options, credentials)
    if key is None:
        return Prepared(parse_query(filters, options))
    entry = _memo.get(key)
    if entry is not None:
        return entry
    entry = Prepared(parse_query(filters, options))  # errors are raised, never remembered
    # Remembered from the second time an input is seen: a one-off query (a new
    # id each call) would only churn the memo, and keeping its trees alive
    # costs the garbage collector more than the memo saves.
    if key in _seen:
        _keep(_memo, key, entry)
    else:
        _keep(_seen, key, None)
    return entry


def _keep(table: dict[Any, Any], key: Hashable, value: Any) -> None:
    # No lock: each step is atomic under the GIL, and a race at worst evicts one more.
    table[key] = value
    if len(table) > MEMO_SIZE:
        # another thread may have evicted it first, or be changing the table
        with contextlib.suppress(KeyError, RuntimeError, StopIteration):
            del table[next(iter(table))]  # the oldest insertion


def clear() -> None:
    """Forget every remembered query (for tests and benchmarks)."""
    _memo.clear()
    _seen.clear()
