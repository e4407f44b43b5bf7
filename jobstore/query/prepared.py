"""Repeated queries: parse and compile results remembered by the exact input.

Clients poll: the same ``[["id", "=", 7]]`` with ``{"get": True}`` every
second while a job runs, the same count of RUNNING jobs for a dashboard. For
such a query validation and compilation cost more than SQLite's answer, so
their results are kept, keyed by a *fingerprint* of the input that equals
another only when both inputs parse to the same query.

The fingerprint is a flat tuple of type tags and values. Only plain JSON-like
data takes part (exact ``str``/``int``/``float``/``bool``/``None``, ``list``,
``tuple``, ``dict`` with ``str`` keys); anything else (a subclass, an object
with its own ``__eq__``) gets no fingerprint and is parsed every time, so a
value can never pass for another. Types are tagged because ``1 == 1.0 ==
True`` while the query language tells them apart.
"""

from __future__ import annotations

import contextlib
from collections.abc import Hashable
from typing import Any

from ..access import Caller
from .compile import INTERNAL, CompiledQuery, View, compile_query
from .ir import Query
from .parse import parse_query

__all__ = ["Prepared", "clear", "fingerprint", "prepare"]

#: Queries remembered (each holds one query's trees: ~2 KiB), and fingerprints of
#: inputs seen once; beyond it the oldest entry goes.
MEMO_SIZE = 1024
#: Views (distinct callers' visibility) kept per query.
MAX_VIEWS = 64
#: Inputs larger than this many leaves are not worth remembering (and not likely repeated).
MAX_LEAVES = 256

_SCALARS = frozenset({str, int, float, bool, type(None)})
_CONTAINERS = frozenset({list, tuple, dict})
_memo: dict[Hashable, Prepared] = {}
_seen: dict[Hashable, None] = {}  # inputs seen once (insertion-ordered: oldest first)


def fingerprint(filters: Any, options: Any, credentials: Any = None) -> tuple[Any, ...] | None:
    """A hashable key that equals another only for the same plain input; None if not plain.

    The caller's ``credentials`` are part of it: callers never share entries,
    so how fast a query answers never tells one caller what another asked.
    """
    out: list[Any] = []
    if not _add(filters, out) or not _add(options, out):
        return None
    if type(credentials) is Caller:  # frozen and hashable: itself is its key
        out.append(Caller)
        out.append(credentials)
    elif not _add(credentials, out):
        return None
    return tuple(out)


def _add(value: Any, out: list[Any], depth: int = 0) -> bool:
    kind = type(value)
    if kind in _SCALARS:
        out.append(kind)
        # -0.0 == 0.0 (and hashes alike): the float's exact form keeps them apart.
        out.append(value.hex() if kind is float else value)
        return True
    # Deep or large: give up before walking it (each element adds at least two items).
    if depth > 32 or (kind in _CONTAINERS and len(out) + 2 * len(value) > 2 * MAX_LEAVES):
        return False
    if kind is list or kind is tuple:
        # list and tuple share a tag: the parser reads both alike.
        out.append(list)
        out.append(len(value))
        for item in value:  # noqa: SIM110 (a loop: all() over a generator is slower here)
            if not _add(item, out, depth + 1):
                return False
        return True
    if kind is dict:
        out.append(dict)
        out.append(len(value))
        for key, item in value.items():
            if type(key) is not str:
                return False
            out.append(key)
            if not _add(item, out, depth + 1):
                return False
        return True
    return False


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
