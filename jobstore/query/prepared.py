"""Repeated queries: parse and compile results remembered by the input.

Clients poll: the same ``[["id", "=", 7]]`` with ``{"get": True}`` every
second while a job runs, the same count of RUNNING jobs for a dashboard; and
they ask the same thing of one job after another (``[["id", "=", n]]`` for a
new ``n`` each time). For such a query validation and compilation cost more
than SQLite's answer, so their results are kept, in two memos:

* **Flat inputs** (a list of ``[path, op, value]`` entries with scalar values,
  the common case) are remembered by their *shape*: the entries' paths,
  operators and value types, the options, the caller. A new call with the
  same shape only checks its values and binds them into the remembered SQL
  (``compile.rebind``).
* Any other input is remembered whole, by its *fingerprint*: the typed key
  of ``plainkey``, equal only for the same plain data with the same types.

Anything that is not plain data is parsed every time. Keys include the
caller's credentials: callers never share entries, so how fast a query
answers never tells one caller what another asked.
"""

from __future__ import annotations

import contextlib
from collections.abc import Hashable
from types import NoneType
from typing import Any, Protocol

from ..access import Caller
from .compile import INTERNAL, CompiledQuery, Rebinding, View, compile_flat, compile_query, rebind
from .ir import And, Options, Query
from .parse import (
    Comparator,
    checked_value,
    comparison_with,
    parse_comparator,
    parse_options_part,
    parse_query,
)
from .plainkey import MAX_STRING, add_plain, is_small

__all__ = [
    "FlatQuery",
    "FlatShape",
    "Prepared",
    "PreparedQuery",
    "clear",
    "fingerprint",
    "flat_key",
    "prepare",
]

#: Queries remembered whole (the inputs that are not flat), each holding one
#: query's trees (~2 KiB), and keys of inputs seen once; beyond it the oldest goes.
MEMO_SIZE = 256
#: Flat query shapes remembered (and shape keys seen once): an application asks a
#: few dozen. With the key limits of ``plainkey``, all the memos together hold at
#: most ~30 MiB (measured with tracemalloc, every input at those limits).
SHAPES_SIZE = 256
#: Values seen once, or polled (kept with their compiled query), per flat shape.
RECENT_PER_SHAPE = 8
#: Entries a flat input may have (more are parsed and remembered whole, if small).
MAX_FLAT_ENTRIES = 16
#: Views (distinct callers' visibility) kept per query.
MAX_VIEWS = 64
_memo: dict[Hashable, Prepared] = {}
_seen: dict[Hashable, None] = {}  # inputs seen once (insertion-ordered: oldest first)
_shapes: dict[Hashable, FlatShape] = {}
_shapes_seen: dict[Hashable, None] = {}

_SCALARS = frozenset({str, int, float, bool, NoneType})
_UNSEEN = object()  # not in the table yet (a view, a value)


def _add_caller(credentials: Any, out: list[Any]) -> bool:
    if credentials is None:  # the daemon itself, most of the time
        out += (NoneType, None)  # as add_plain(None) would add
        return True
    if type(credentials) is Caller:  # frozen and hashable: itself is its key
        out.append(Caller)
        out.append(credentials)
        return True
    return add_plain(credentials, out)


def fingerprint(filters: Any, options: Any, credentials: Any = None) -> tuple[Any, ...] | None:
    """A hashable key that equals another only for the same plain input; None if not plain."""
    out: list[Any] = []
    if add_plain(filters, out) and add_plain(options, out) and _add_caller(credentials, out):
        return tuple(out)
    return None


#: A flat input taken apart (a plain tuple: it is made on every query):
#: (its shape: paths, operators and value types, the options, the caller;
#: its values; the values' exact key, floats by their exact form as -0.0 is not 0.0).
FlatKey = tuple[tuple[Any, ...], list[Any], tuple[Any, ...]]


def flat_key(filters: Any, options: Any, credentials: Any = None) -> FlatKey | None:
    """``(shape, values, exact)`` of a flat input, or None if it is not flat plain data.

    Flat: a list of lists ``[path, op, value]`` with ``str`` path and operator
    and a ``str``/``int``/``float``/``bool``/``None`` value (exact types). Two
    inputs have equal shapes when only their values differ, and not in type.
    """
    if type(filters) is not list or len(filters) > MAX_FLAT_ENTRIES:
        return None
    out: list[Any] = [len(filters)]
    values = []
    exact = []
    for entry in filters:
        if type(entry) is not list or len(entry) != 3:
            return None
        path, op, value = entry
        kind = type(value)
        if (
            type(path) is not str
            or type(op) is not str
            or kind not in _SCALARS
            or len(path) > MAX_STRING
            or not is_small(kind, value)
        ):
            return None
        out += (path, op, kind)
        values.append(value)
        exact.append(value.hex() if kind is float else value)
    if add_plain(options, out) and _add_caller(credentials, out):
        return tuple(out), values, tuple(exact)
    return None


class PreparedQuery(Protocol):
    """A parsed query, ready to run: what ``prepare`` returns."""

    @property
    def options(self) -> Options:
        """Its options (all that running it needs once its SQL needs no Python)."""

    @property
    def query(self) -> Query:
        """The whole parsed query."""

    def compiled(self, view: View) -> CompiledQuery:
        """``compile_query(self.query, view)``."""


class _CompiledPerView:
    """``compiled(view)`` computed once per view by ``_compile`` (the internal one unhashed).

    Subclasses start both caches as None themselves: no ``super().__init__()``
    call on a path that runs for every query.
    """

    __slots__ = ("_by_view", "_internal")
    _internal: CompiledQuery | None
    _by_view: dict[View, CompiledQuery] | None

    def _compile(self, view: View) -> CompiledQuery:
        raise NotImplementedError

    def compiled(self, view: View) -> CompiledQuery:
        """``compile_query(self.query, view)``, computed once per view."""
        if view is INTERNAL:  # the daemon's own queries: no hashing of the view
            compiled = self._internal
            if compiled is None:
                compiled = self._internal = self._compile(view)
            return compiled
        if self._by_view is None:
            self._by_view = {}
        compiled = self._by_view.get(view)
        if compiled is None:
            if len(self._by_view) >= MAX_VIEWS:
                self._by_view.clear()
            compiled = self._by_view[view] = self._compile(view)
        return compiled


class Prepared(_CompiledPerView):
    """One query's parse, and its compilation for each view it was run under."""

    __slots__ = ("options", "query")

    def __init__(self, query: Query) -> None:
        self.query = query
        self.options = query.options
        self._internal = self._by_view = None

    def _compile(self, view: View) -> CompiledQuery:
        return compile_query(self.query, view)


class FlatShape:
    """A flat input's entries without their values, its options, and its SQL per view.

    Queries of a shape whose values are asked again (polled) are kept too,
    compiled: a poll then skips even the binding of its values.
    """

    __slots__ = ("_by_view", "_checks_values", "_internal", "_recent", "comparators", "options")

    def __init__(self, comparators: tuple[Comparator, ...], options: Options) -> None:
        self.comparators = comparators
        self.options = options
        self._checks_values = any(comparator.checks_value for comparator in comparators)
        self._internal: object = _UNSEEN  # a Rebinding, None (cannot rebind) or unseen
        self._by_view: dict[View, Rebinding | None] = {}
        # Values seen once (None), or asked again, with their query.
        self._recent: dict[tuple[Any, ...], FlatQuery | None] = {}

    def prepare(self, values: list[Any], exact: tuple[Any, ...]) -> FlatQuery:
        """The query of this shape with ``values`` (QueryError if one does not fit)."""
        recent = self._recent
        flat = recent.get(exact, _UNSEEN)
        if type(flat) is FlatQuery:
            return flat
        checked = (
            list(map(checked_value, self.comparators, values)) if self._checks_values else values
        )
        query = FlatQuery(self, values, checked)
        # Bounded by starting over: cheaper per call than evicting oldest-first,
        # and a new id per call (the common case) never comes back anyway.
        if len(recent) >= RECENT_PER_SHAPE:
            recent.clear()
        recent[exact] = None if flat is _UNSEEN else query  # kept from the second time
        return query

    def compiled(self, flat: FlatQuery, view: View) -> CompiledQuery:
        """``compile_query(flat.query, view)``, by new parameters for known SQL where it can."""
        rebinding = self._internal if view is INTERNAL else self._by_view.get(view, _UNSEEN)
        if type(rebinding) is Rebinding:
            compiled = rebind(rebinding, flat.values)
            # None: these values plan to other SQL (an int beyond 64 bits, an empty prefix)
            return compiled if compiled is not None else compile_query(flat.query, view)
        if rebinding is None:  # some entry needs Python, or the order does
            return compile_query(flat.query, view)
        compiled, found = compile_flat(flat.query, view)
        if view is INTERNAL:
            self._internal = found
        else:
            if len(self._by_view) >= MAX_VIEWS:
                self._by_view.clear()
            self._by_view[view] = found
        return compiled


class FlatQuery(_CompiledPerView):
    """A flat query: its remembered shape and this call's values (the Query is built if asked).

    A polled one is asked again, so its SQL is kept per view too.
    """

    __slots__ = ("_query", "options", "raw_values", "shape", "values")

    def __init__(self, shape: FlatShape, raw_values: list[Any], values: list[Any]) -> None:
        self.shape = shape
        self.options = shape.options
        self.raw_values = raw_values  # as the caller gave them
        self.values = values  # as the comparisons hold them (checked_value)
        self._query: Query | None = None
        self._internal = self._by_view = None

    @property
    def query(self) -> Query:
        if self._query is None:
            where = And(tuple(map(comparison_with, self.shape.comparators, self.raw_values)))
            self._query = Query(where, self.shape.options)
        return self._query

    def _compile(self, view: View) -> CompiledQuery:
        return self.shape.compiled(self, view)


def prepare(filters: Any, options: Any, credentials: Any = None) -> PreparedQuery:
    """Parse ``filters``/``options`` (QueryError if malformed), remembering repeated inputs.

    ``credentials`` only partition the memo (see the module's docstring); they
    are not checked here.
    """
    flat = flat_key(filters, options, credentials)
    if flat is not None:
        shape_key, values, exact = flat
        shape = _shapes.get(shape_key)
        if shape is not None:
            return shape.prepare(values, exact)
        query = parse_query(filters, options)  # errors are raised, never remembered
        if _second_sighting(_shapes_seen, shape_key, SHAPES_SIZE):
            comparators = tuple(
                parse_comparator(path, op, (index,)) for index, (path, op, _) in enumerate(filters)
            )
            shape = FlatShape(comparators, parse_options_part(options))
            _keep(_shapes, shape_key, shape, SHAPES_SIZE)
        return Prepared(query)
    exact_key = fingerprint(filters, options, credentials)
    if exact_key is None:
        return Prepared(parse_query(filters, options))
    entry = _memo.get(exact_key)
    if entry is not None:
        return entry
    entry = Prepared(parse_query(filters, options))
    if _second_sighting(_seen, exact_key, MEMO_SIZE):
        _keep(_memo, exact_key, entry, MEMO_SIZE)
    return entry


def _second_sighting(seen: dict[Hashable, None], key: Hashable, size: int) -> bool:
    """Has ``key`` been seen before? Records it if not.

    Inputs are remembered from the second time they are seen: a one-off query
    would only churn the memo, and keeping its trees alive costs the garbage
    collector more than the memo saves.
    """
    if key in seen:
        return True
    _keep(seen, key, None, size)
    return False


def _keep(table: dict[Any, Any], key: Hashable, value: Any, size: int) -> None:
    # No lock: each step is atomic under the GIL, and a race at worst evicts one more.
    table[key] = value
    if len(table) > size:
        # another thread may have evicted it first, or be changing the table
        with contextlib.suppress(KeyError, RuntimeError, StopIteration):
            del table[next(iter(table))]  # the oldest insertion


def clear() -> None:
    """Forget every remembered query (for tests and benchmarks)."""
    for table in (_memo, _seen, _shapes, _shapes_seen):
        table.clear()
