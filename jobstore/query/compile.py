"""The SQL compiler: a parsed ``Query`` becomes one SELECT (a sqlglot tree) plus a Python residual.

Each top-level filter entry is either exact in SQL, or left to Python (its
SQL, if any, is then only a necessary condition that narrows the rows read).
Compiled SQL is cached by the query's *shape*: the tree with every value
replaced by what its SQL depends on (``ops.SqlPlan.shape``), so a repeated
query costs one traversal, a dict lookup and the parameter list.
"""

from __future__ import annotations

import functools
import itertools
import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect

from ..columns import COLUMNS, GENERATED, TIMESTAMP_FIELDS, Column
from ..errors import QueryError
from ..rows import SELECT_COLUMNS
from ..timeutil import format_timestamp
from . import dialect_sqlite as dialect
from .caches import small_cache
from .dialect_sqlite import AliasSource, ColumnTerm, ElementTerm, JsonTerm
from .ir import And, Comparison, Node, Options, OrderKey, Query, position_text
from .ops import OPERATORS, SqlPlan, Values
from .paths import FANOUT, Path, is_index
from .sqlbuild import ALL_TYPES, CONTAINER, NULL, TEXT, Cond, and_, compare, in_list, or_, to_sql

__all__ = [
    "INTERNAL",
    "CompiledQuery",
    "Rebinding",
    "View",
    "cache_info",
    "compile_flat",
    "compile_query",
    "rebind",
]

TABLE = "jobs"
_MAX_INDEX_SEGMENTS = 3  # each index segment on an unknown container doubles the SQL
_MAX_SQL_INDEX = 2**31
_MAX_INT64 = 2**63 - 1


@dataclass(frozen=True, slots=True)
class View:
    """Who is asking: rows they may see, and job fields they see redacted.

    ``owner``/``methods`` restrict rows to ``owner = ? OR method IN (...)``
    (``owner=None`` with ``restricted`` means only the listed methods);
    filters and order keys on ``redacted`` fields never reach SQL, because
    SQL only has the raw values.
    """

    restricted: bool = False
    owner: str | None = None
    methods: tuple[str, ...] = ()
    redacted: frozenset[str] = frozenset()
    # Derived once here: every compile reads them (the cache key, the parameters).
    shape: Hashable = field(init=False, repr=False, compare=False)
    params: tuple[Any, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        shape = (self.restricted, self.owner is not None, len(self.methods), self.redacted)
        params = ((self.owner,) if self.owner is not None else ()) + self.methods
        object.__setattr__(self, "shape", shape)
        object.__setattr__(self, "params", params)


#: An internal caller: every row, raw values.
INTERNAL = View()


class CompiledQuery(NamedTuple):  # NamedTuples here: immutable, and cheap on the hot path
    """What runs where: the SQL and its parameters, and what Python still has to do."""

    sql: str
    params: list[Any]
    residual: tuple[Node, ...]
    order_in_python: bool
    paged_in_sql: bool
    counted_in_sql: bool
    residual_reasons: tuple[str, ...] = ()


# --- planning: shape and parameters ---------------------------------------------------------


class _Planned(NamedTuple):
    plan: SqlPlan
    offset: int
    null_matches: bool


class _Shaper:
    """One walk over the filter tree: its shape (the cache key), parameters and plans."""

    __slots__ = ("params", "plans", "view")

    def __init__(self, view: View) -> None:
        self.view = view
        self.params: list[Any] = []
        self.plans: dict[int, _Planned] = {}

    def node(self, node: Node) -> Hashable:
        if isinstance(node, Comparison):
            return self.comparison(node)
        if isinstance(node, And):
            return ("and", tuple([self.node(child) for child in node.children]))
        return ("or", tuple([self.node(branch) for branch in node.branches]))

    def comparison(self, node: Comparison) -> Hashable:
        plan = _plan(node.path, node.op, node.value, self.view)
        if plan is None:
            return ("py",)
        null_matches = _null_matches(node.path, node.op, node.value)
        self.plans[id(node)] = _Planned(plan, len(self.params), null_matches)
        self.params.extend(plan.params)
        path = node.path
        return (
            path.segments,
            path.is_date,
            node.op,
            node.fold,
            plan.shape,
            plan.exact,
            null_matches,
        )


def _null_matches(path: Path, op: str, value: Any) -> bool:
    """Does a JSON null (or a missing value) match? The SQL differs when it does."""
    return _null_test(path, op)(value)


def _null_test(path: Path, op: str) -> Callable[[Any], bool]:
    """``value -> does a null match [path, op, value]``."""
    return _no_null_matches if path.is_date else _NULL_TESTS[op]


def _no_null_matches(value: Any) -> bool:
    return False  # a '.$date' comparison needs a timestamp


_NULL_TESTS = {op: functools.partial(operator.python, None) for op, operator in OPERATORS.items()}


def _length(segments: tuple[str, ...]) -> int:
    return sum(map(len, segments))


@small_cache(maxsize=4096, size=_length)  # paths repeat from query to query
def _json_keys_supported(segments: tuple[str, ...]) -> bool:
    """Can SQLite's JSON path name every key after the column (``segments[0]``)?"""
    keys = segments[1:]
    index_segments = sum(1 for segment in keys if is_index(segment))
    if index_segments > _MAX_INDEX_SEGMENTS:
        return False
    return all(dialect.json_path_supported(segment) for segment in keys)


Planner = Callable[[Any], SqlPlan | None]


def _plan(path: Path, op: str, value: Any, view: View) -> SqlPlan | None:
    """How ``[path, op, value]`` runs in SQL for ``view``; None if it cannot."""
    planner = _planner(path, op, view)
    return None if planner is None else planner(value)


def _planner(path: Path, op: str, view: View) -> Planner | None:
    """How a value compared by ``[path, op, ...]`` plans for ``view``; None: never in SQL."""
    segments = path.segments
    field_name = segments[0]
    if field_name in view.redacted:
        return None
    if path.is_date:
        if field_name not in TIMESTAMP_FIELDS or len(segments) > 1:
            return None
        return _plan_date
    column = COLUMNS.get(field_name)
    if column is not None and column.storage == "json" and not _json_keys_supported(segments):
        return None
    return OPERATORS[op].plan


def _plan_date(value: Any) -> SqlPlan | None:
    """A ``.$date`` comparison with a stored timestamp: text of the same fixed width."""
    try:
        stamp = format_timestamp(value)
    except (OverflowError, ValueError):
        return None
    return SqlPlan(("date",), (stamp,))


# --- building: conditions from shapes ------------------------------------------------------


@dataclass(slots=True)
class _Builder:
    plans: dict[int, _Planned]
    aliases: AliasSource = field(default_factory=AliasSource)

    def placeholders(self, planned: _Planned) -> Values:
        start = planned.offset
        return Values(lambda i: exp.Placeholder(this=f"p{start + i}"), len(planned.plan.params))

    def node(self, node: Node) -> tuple[Cond, bool]:
        """The node's condition, and whether it is exact (else a necessary condition)."""
        if isinstance(node, Comparison):
            planned = self.plans.get(id(node))
            if planned is None:
                return True, False
            return self.comparison(node, planned), planned.plan.exact
        if isinstance(node, And):
            parts = [self.node(child) for child in node.children]
            return and_(*(cond for cond, _ in parts)), all(exact for _, exact in parts)
        parts = [self.node(branch) for branch in node.branches]
        return or_(*(cond for cond, _ in parts)), all(exact for _, exact in parts)

    def comparison(self, node: Comparison, planned: _Planned) -> Cond:
        values = self.placeholders(planned)
        field_name, *rest = node.path.segments
        column = COLUMNS.get(field_name)
        if column is None:
            return False  # not a job field: MISSING never matches
        if node.path.is_date:
            term = self.column_term(column)
            return and_(term.is_type(TEXT), compare(term.value(), node.op, values[0]))
        operator = OPERATORS[node.op]

        def build(term: Any) -> Cond:
            return operator.build(term, planned.plan.shape, values, node.fold)

        generated = GENERATED.get((field_name, rest[0])) if len(rest) == 1 else None
        if generated is not None:
            return build(self.column_term(generated))
        if column.storage != "json":
            term = self.column_term(column)
            if not rest:
                return build(term)
            # Walking into a scalar: a null reads as null, anything else is MISSING.
            return and_(term.is_type(NULL), planned.null_matches)
        root = JsonTerm(exp.column(column.name, table=TABLE), (), column.types, False, self.aliases)
        return self.walk(root, tuple(rest), build, planned.null_matches)

    def column_term(self, column: Column) -> ColumnTerm:
        return ColumnTerm(column.name, column.types, self.aliases)

    def walk(
        self,
        term: JsonTerm,
        segments: tuple[str, ...],
        build: Callable[[Any], Cond],
        null_matches: bool,
    ) -> Cond:
        """QUERY.md §2's walk, as SQL: one branch per container type the value may have."""
        if not segments:
            return build(term)
        segment, rest = segments[0], segments[1:]
        branches: list[Cond] = []
        if null_matches:
            branches.append(term.is_type(NULL))  # a null midway reads as null
        if "object" in term.types:
            child = JsonTerm(term.doc, (*term.parts, segment), ALL_TYPES, True, self.aliases)
            branches.append(self.walk(child, rest, build, null_matches))
        if "array" in term.types:
            if is_index(segment):
                index = int(segment)
                if index < _MAX_SQL_INDEX:
                    child = JsonTerm(term.doc, (*term.parts, index), ALL_TYPES, True, self.aliases)
                    branches.append(self.walk(child, rest, build, null_matches))
                if null_matches:  # past the end reads as null
                    length = dialect.json_array_length(term.doc.copy(), term.parts)
                    branches.append(
                        and_(
                            term.is_type(frozenset({"array"})),
                            compare(length, "<=", exp.Literal.number(index)),
                        )
                    )
            elif segment == FANOUT:
                branches.append(
                    term.any_element(
                        lambda element: self.walk_element(element, rest, build, null_matches)
                    )
                )
        return or_(*branches)

    def walk_element(
        self,
        element: ElementTerm,
        segments: tuple[str, ...],
        build: Callable[[Any], Cond],
        null_matches: bool,
    ) -> Cond:
        if not segments:
            return build(element)
        inner = JsonTerm(element.as_document(), (), CONTAINER, True, self.aliases)
        return or_(
            element.is_type(NULL) if null_matches else False,
            self.walk(inner, segments, build, null_matches),
        )


# --- ordering -------------------------------------------------------------------------------


def _order_terms(key: OrderKey, view: View) -> list[exp.Ordered] | None:
    """ORDER BY terms giving QUERY.md's order for one key, or None to sort in Python."""
    field_name, *rest = key.path.segments
    if field_name in view.redacted:
        return None
    column = COLUMNS.get(field_name)
    if column is None:
        return []  # every job reads MISSING: sorts as null, ties decide
    generated = GENERATED.get((field_name, rest[0])) if len(rest) == 1 else None
    if generated is not None:
        column, rest = generated, []
    if column.storage != "json":
        if rest:
            return []  # null or MISSING for every job
        plain = exp.column(column.name, table=TABLE)
        return [exp.Ordered(this=plain, desc=key.descending, nulls_first=key.nulls_first)]
    parts: list[str | int] = []
    container_is_list = column.types == frozenset({"array"})
    for depth, segment in enumerate(rest):
        if not dialect.json_path_supported(segment):
            return None
        if is_index(segment):
            if not (depth == 0 and container_is_list) or int(segment) >= _MAX_SQL_INDEX:
                return None  # object key or list index: only Python knows
            parts.append(int(segment))
        else:
            parts.append(segment)
    doc = exp.column(column.name, table=TABLE)
    value = dialect.json_value(doc, tuple(parts))
    container_test = to_sql(
        in_list(
            dialect.json_type(doc.copy(), tuple(parts)),
            [exp.Literal.string(name) for name in sorted(CONTAINER)],
        )
    )
    # A CASE, not the bare test: json_type is NULL for a missing value, and NULL sorts apart.
    is_container = exp.Case(
        ifs=[exp.If(this=container_test, true=exp.Literal.number(1))], default=exp.Literal.number(0)
    )
    sortable = exp.Case(
        ifs=[exp.If(this=container_test.copy(), true=dialect.canonical_json(value.copy()))],
        default=value.copy(),
    )
    terms = []
    if key.nulls is not None:
        terms.append(
            exp.Ordered(
                this=exp.Is(this=value.copy(), expression=exp.Null()),
                desc=key.nulls_first,
                nulls_first=True,
            )
        )
    terms.append(exp.Ordered(this=is_container, desc=key.descending, nulls_first=True))
    terms.append(exp.Ordered(this=sortable, desc=key.descending, nulls_first=not key.descending))
    return terms


# --- the whole query ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Template:
    sql: str
    param_order: tuple[int, ...] | None  # None: the parameters' own order
    residual_entries: tuple[int, ...]
    order_in_python: bool
    paged_in_sql: bool
    counted_in_sql: bool


# Hits read the dict without a lock (a dict lookup is atomic under the GIL);
# misses insert and evict oldest-first under the lock. The counters are for
# tests and benchmarks and may miss a concurrent increment.
_CACHE: dict[Hashable, _Template] = {}
_CACHE_SIZE = 512
# Longer SQL (the JSON paths are in it) is built every time and never kept:
# otherwise a client could fill the cache with huge paths. Queries of the
# property tests stay under 4 KiB.
_MAX_CACHED_SQL = 16_384
_CACHE_LOCK = threading.Lock()
_stats = {"hits": 0, "misses": 0}


def cache_info() -> dict[str, int]:
    """Hits and misses of the compiled-SQL cache (for tests and benchmarks)."""
    return {**_stats, "size": len(_CACHE)}


def compile_query(query: Query, view: View = INTERNAL) -> CompiledQuery:
    """Compile ``query`` for ``view``: SQL for what SQLite can do exactly, the rest as residual."""
    return _compile(query, view)[0]


def _compile(query: Query, view: View) -> tuple[CompiledQuery, _Template, _Shaper]:
    shaper = _Shaper(view)
    node = shaper.node
    where_shape = tuple([node(child) for child in query.where.children])
    order_shape = (
        tuple([(key.path.segments, key.descending, key.nulls) for key in query.options.order_by])
        if query.options.order_by
        else ()
    )
    key = (
        where_shape,
        order_shape,
        query.options.count,
        query.options.get,
        query.options.offset > 0,
        query.options.limit > 0,
        view.shape,
    )
    template = _CACHE.get(key)
    if template is not None:
        _stats["hits"] += 1
    else:
        template = _build(query, view, shaper)
        with _CACHE_LOCK:
            _stats["misses"] += 1
            if len(template.sql) <= _MAX_CACHED_SQL:
                _CACHE[key] = template
                while len(_CACHE) > _CACHE_SIZE:
                    del _CACHE[next(iter(_CACHE))]
    if template.residual_entries:
        residual = tuple([query.where.children[i] for i in template.residual_entries])
        reasons = tuple([_reason(node, shaper) for node in residual])
    else:
        residual = reasons = ()
    params = shaper.params
    params += _tail(template, query.options, view)
    return _with_params(template, params, residual, reasons), template, shaper


def _tail(template: _Template, options: Options, view: View) -> list[Any]:
    """The parameters after the filters': the view's, then paging's."""
    tail = list(view.params)
    if template.paged_in_sql and not options.get:  # a get's LIMIT 1 is in the SQL
        # SQLite binds at most int64; no table has more rows, so clamping is exact.
        tail.append(min(options.limit, _MAX_INT64) if options.limit else -1)
        if options.offset > 0:
            tail.append(min(options.offset, _MAX_INT64))
    return tail


def _with_params(
    template: _Template,
    params: list[Any],
    residual: tuple[Node, ...] = (),
    reasons: tuple[str, ...] = (),
) -> CompiledQuery:
    order = template.param_order
    return CompiledQuery(
        template.sql,
        params if order is None else [params[i] for i in order],
        residual,
        template.order_in_python,
        template.paged_in_sql,
        template.counted_in_sql,
        reasons,
    )


# --- new values for a remembered query -------------------------------------------------------


class Rebinding(NamedTuple):
    """A compiled flat query (top-level comparisons only, all exact in SQL), ready for new values.

    Another query with the same entries but other values compiles to the same
    SQL exactly when each comparison plans to the same shape (``slots``), so
    only its parameters are new (``rebind``).
    """

    template: _Template
    slots: tuple[_Slot, ...]  # one per filter entry
    tail: tuple[Any, ...]  # the parameters after the filters' (the view's, paging's)


class _Slot(NamedTuple):
    planner: Planner
    shape: Hashable  # of the entry's SqlPlan
    null_test: Callable[[Any], bool]
    null_matches: bool


def compile_flat(query: Query, view: View = INTERNAL) -> tuple[CompiledQuery, Rebinding | None]:
    """``compile_query``, and a Rebinding if the query is flat and needs no Python."""
    compiled, template, shaper = _compile(query, view)
    if template.residual_entries or template.order_in_python:
        return compiled, None
    slots = []
    for child in query.where.children:
        if not isinstance(child, Comparison):
            return compiled, None
        planned = shaper.plans.get(id(child))
        planner = _planner(child.path, child.op, view)
        if planned is None or planner is None:  # not in SQL
            return compiled, None
        null_test = _null_test(child.path, child.op)
        slots.append(_Slot(planner, planned.plan.shape, null_test, planned.null_matches))
    return compiled, Rebinding(template, tuple(slots), tuple(_tail(template, query.options, view)))


def rebind(rebinding: Rebinding, values: list[Any]) -> CompiledQuery | None:
    """The compiled query of ``rebinding``'s entries with other ``values`` (parsed, one per
    entry), under the same options and view; None if these values need other SQL.
    """
    params: list[Any] = []
    for (planner, shape, null_test, null_matches), value in zip(
        rebinding.slots, values, strict=True
    ):
        plan = planner(value)
        if (
            plan is None
            or not plan.exact
            or plan.shape != shape
            or null_test(value) != null_matches
        ):
            return None
        params += plan.params
    params += rebinding.tail
    return _with_params(rebinding.template, params)


def _reason(node: Node, shaper: _Shaper) -> str:
    """Name the first comparison in ``node`` that SQL cannot do exactly."""
    if isinstance(node, Comparison):
        planned = shaper.plans.get(id(node))
        why = "checked in Python" if planned is None else "SQL narrows it, Python decides"
        return f"{position_text(node.position)} {node.source!r}: {why}"
    children = node.children if isinstance(node, And) else node.branches
    for child in children:
        if not _exact(child, shaper):
            return _reason(child, shaper)
    return position_text(node.position)


def _exact(node: Node, shaper: _Shaper) -> bool:
    if isinstance(node, Comparison):
        planned = shaper.plans.get(id(node))
        return planned is not None and planned.plan.exact
    children = node.children if isinstance(node, And) else node.branches
    return all(_exact(child, shaper) for child in children)


def _visibility(view: View, first_param: int) -> Cond:
    if not view.restricted:
        return True
    index = first_param
    allowed: list[Cond] = []
    if view.owner is not None:
        allowed.append(
            compare(exp.column("owner", table=TABLE), "=", exp.Placeholder(this=f"p{index}"))
        )
        index += 1
    if view.methods:
        names = [exp.Placeholder(this=f"p{index + i}") for i in range(len(view.methods))]
        allowed.append(in_list(exp.column("method", table=TABLE), names))
    return or_(*allowed)


def _build(query: Query, view: View, shaper: _Shaper) -> _Template:
    builder = _Builder(shaper.plans)
    conds: list[Cond] = []
    residual: list[int] = []
    for index, child in enumerate(query.where.children):
        cond, exact = builder.node(child)
        conds.append(cond)
        if not exact:
            residual.append(index)
    conds.append(_visibility(view, len(shaper.params)))
    where = and_(*conds)

    order_terms: list[exp.Ordered] = []
    order_in_python = False
    for key in query.options.order_by:
        terms = _order_terms(key, view)
        if terms is None:
            order_in_python = True
            break
        order_terms.extend(terms)
    if order_in_python:
        order_terms = []
    order_terms.append(
        exp.Ordered(this=exp.column("id", table=TABLE), desc=False, nulls_first=True)
    )

    counted_in_sql = query.options.count and not residual
    paged_in_sql = (
        not residual
        and not order_in_python
        and not query.options.count
        and (query.options.offset > 0 or query.options.limit > 0 or query.options.get)
    )
    if counted_in_sql:
        select = exp.Select(expressions=[exp.Count(this=exp.Star())])
    else:
        select = exp.Select(expressions=[exp.column(name, table=TABLE) for name in SELECT_COLUMNS])
    select = select.from_(exp.Table(this=exp.to_identifier(TABLE)), copy=False)
    if where is not True:
        select = select.where(to_sql(where), copy=False)
    if not counted_in_sql:
        select = select.order_by(*order_terms, copy=False)
    next_param = len(shaper.params) + len(view.params)
    if paged_in_sql:
        # A get is LIMIT 1 (it never has an offset); an OFFSET only when there is one
        # (the cache key tells offset > 0 apart); SQLite wants a LIMIT before it.
        limit: exp.Expr = exp.Literal.number(1)
        if not query.options.get:
            limit = exp.Placeholder(this=f"p{next_param}")
            next_param += 1
        select.set("limit", exp.Limit(expression=limit))
        if query.options.offset > 0:
            select.set("offset", exp.Offset(expression=exp.Placeholder(this=f"p{next_param}")))
            next_param += 1
    named_sql = select.sql(dialect=dialect.DIALECT)
    order: tuple[int, ...] | None = _placeholder_order(named_sql)
    # Every parameter, each once, in order: bind the list as it is (the common case).
    if order == tuple(range(next_param)):
        order = None
    anonymous = select.transform(
        lambda node: exp.Placeholder() if isinstance(node, exp.Placeholder) else node,
        copy=False,
    )
    return _Template(
        sql=anonymous.sql(dialect=dialect.DIALECT),
        param_order=order,
        residual_entries=tuple(residual),
        order_in_python=order_in_python,
        paged_in_sql=paged_in_sql,
        counted_in_sql=counted_in_sql,
    )


def _placeholder_order(sql: str) -> tuple[int, ...]:
    """Parameter numbers in the order their placeholders appear in the SQL text."""
    tokens = Dialect.get_or_raise(dialect.DIALECT).tokenize(sql)
    order: list[int] = []
    for previous, token in itertools.pairwise(tokens):
        if previous.token_type.name == "COLON" and token.text.startswith("p"):
            order.append(int(token.text[1:]))
    return tuple(order)


def ensure_pushable(options: Options, compiled: CompiledQuery) -> None:
    """``force_sql_filters``: refuse a query that needs Python, naming the entry."""
    if options.force_sql_filters and compiled.residual:
        raise QueryError(
            "force_sql_filters: this entry cannot be evaluated by the database: "
            + compiled.residual_reasons[0]
        )
