"""The operator table: for every operator, its Python meaning and its SQL form, side by side.

The Python function is the reference (QUERY.md §4). The SQL side is split in
two so that compiled SQL can be cached by shape: ``plan(v)`` reads the value
and returns a hashable *shape* (everything the SQL text depends on), the
parameters to bind, and whether the SQL is exact; ``build(term, shape,
params, ctx)`` makes the condition from the shape and placeholders only, so it
cannot depend on a value the cache key does not hold. ``plan`` returning None
means the comparison stays in Python.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlglot import exp

from ..jsoncodec import has_utf8_form
from ..timeutil import as_aware
from . import dialect_sqlite as dialect
from .caches import compile_pattern
from .sqlbuild import (
    ALL_TYPES,
    CONTAINER,
    NULL,
    NUMBER,
    TEXT,
    Cond,
    Term,
    and_,
    compare,
    in_list,
    not_exists,
    or_,
)

__all__ = ["DATE_OPERATORS", "OPERATORS", "Operator", "SqlPlan", "fold", "next_prefix"]

_INT64 = (-(2**63), 2**63 - 1)


class SqlPlan(NamedTuple):  # a NamedTuple: immutable, and made once per comparison cheaply
    """What the SQL for one value looks like: its shape, its parameters, and if it is exact.

    An inexact plan's SQL is a necessary condition (it keeps every job that
    matches, maybe more); the comparison is then also checked in Python.
    """

    shape: Hashable
    params: tuple[Any, ...] = ()
    exact: bool = True


class Values:
    """The placeholders of one comparison, handed out fresh on each use."""

    def __init__(self, make: Callable[[int], exp.Expr], count: int) -> None:
        self._make = make
        self.count = count

    def __getitem__(self, index: int) -> exp.Expr:
        if not 0 <= index < self.count:
            raise IndexError(index)
        return self._make(index)

    def all(self, start: int = 0, stop: int | None = None) -> list[exp.Expr]:
        return [self._make(i) for i in range(start, self.count if stop is None else stop)]


Builder = Callable[[Term, Any, Values, bool], Cond]


@dataclass(frozen=True, slots=True)
class Operator:
    """One operator: its Python meaning, its value check, and its SQL plan and builder."""

    name: str
    python: Callable[[Any, Any], bool]
    plan: Callable[[Any], SqlPlan | None]
    build: Builder
    needs_string: bool = False
    description: str = ""


# --- value kinds -------------------------------------------------------------------------


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float)


def _kind(value: Any) -> str:
    """How a filter value can reach SQL: its JSON kind, or why it cannot."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "num"
    if isinstance(value, int):
        return "num" if _INT64[0] <= value <= _INT64[1] else "unbindable"
    if isinstance(value, float):
        return "num" if math.isfinite(value) else "unbindable"
    if isinstance(value, str):
        return "text" if has_utf8_form(value) else "unbindable"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, datetime):
        return "datetime"  # stored jobs never hold datetimes, only their text form
    return "other"


def _bind(value: Any) -> Any:
    return int(value) if isinstance(value, bool) else value


def fold(value: Any) -> Any:
    """The ``C`` forms' view of a value: strings casefolded, and the strings directly in a list."""
    if isinstance(value, str):
        return value.casefold()
    if isinstance(value, list):
        return [item.casefold() if isinstance(item, str) else item for item in value]
    return value


def _text(term: Term, folded: bool) -> exp.Expr:
    value = term.value()
    return dialect.casefold(value) if folded else value


# --- equality ------------------------------------------------------------------------------


def _equal(x: Any, v: Any) -> bool:
    try:
        return bool(x == v)
    except Exception:  # an exotic value given to filter_list: not equal, never an error
        return False


def _plan_equality(v: Any) -> SqlPlan | None:
    """One value compared for equality (=, != and the list elements of rin/rnin)."""
    kind = _kind(v)
    if kind == "num" or kind == "text":  # the common case first: it runs per query
        return SqlPlan((kind,), (_bind(v),))
    if kind == "null" or kind == "datetime":
        return SqlPlan((kind,))
    if kind == "array" or kind == "object":
        return SqlPlan((kind,), exact=False)  # by value, with 1 == 1.0: checked in Python
    return None


def _build_eq(term: Term, shape: Any, p: Values, folded: bool) -> Cond:
    (kind,) = shape
    if kind == "null":
        return term.is_type(NULL)
    if kind == "num":
        return and_(term.is_type(NUMBER), compare(term.value(), "=", p[0]))
    if kind == "text":
        return and_(term.is_type(TEXT), compare(_text(term, folded), "=", p[0]))
    if kind == "datetime":
        return False
    return term.is_type(frozenset({kind}))


def _build_ne(term: Term, shape: Any, p: Values, folded: bool) -> Cond:
    (kind,) = shape
    if kind == "null":
        return term.is_type(ALL_TYPES - NULL)
    if kind == "num":
        return or_(
            term.is_type(ALL_TYPES - NUMBER),
            and_(term.is_type(NUMBER), compare(term.value(), "!=", p[0])),
        )
    if kind == "text":
        return or_(
            term.is_type(ALL_TYPES - TEXT),
            and_(term.is_type(TEXT), compare(_text(term, folded), "!=", p[0])),
        )
    return term.is_type(ALL_TYPES)  # present: exact for datetime, a superset for lists


# --- ordering comparisons ------------------------------------------------------------------


def _comparable(x: Any, v: Any) -> bool:
    if _is_number(x) and _is_number(v):
        return True
    if isinstance(x, str) and isinstance(v, str):
        return True
    return isinstance(x, datetime) and isinstance(v, datetime)


def _ordering(symbol: str, test: Callable[[Any, Any], bool]) -> Operator:
    def python(x: Any, v: Any) -> bool:
        if not _comparable(x, v):
            return False
        try:
            if isinstance(x, datetime):  # a naive datetime is UTC (QUERY.md §3)
                x, v = as_aware(x), as_aware(v)
            return test(x, v)
        except (OverflowError, TypeError):
            return False

    def plan(v: Any) -> SqlPlan | None:
        kind = _kind(v)
        if kind in ("num", "text"):
            return SqlPlan((kind,), (_bind(v),))
        if kind in ("unbindable", "other"):
            return None if kind == "unbindable" else SqlPlan(("never",))
        return SqlPlan(("never",))  # null, lists, objects, datetimes: never comparable

    def build(term: Term, shape: Any, p: Values, folded: bool) -> Cond:
        (kind,) = shape
        if kind == "num":
            return and_(term.is_type(NUMBER), compare(term.value(), symbol, p[0]))
        if kind == "text":
            return and_(term.is_type(TEXT), compare(_text(term, folded), symbol, p[0]))
        return False

    return Operator(symbol, python, plan, build, description=f"x {symbol} v, comparable types")


# --- regular expressions -------------------------------------------------------------------


def _regex(x: Any, v: Any) -> bool:
    if x is None:
        x = ""
    return isinstance(x, str) and compile_pattern(v).match(x) is not None


def _plan_regex(v: Any) -> SqlPlan | None:
    if _kind(v) != "text":
        return None
    return SqlPlan(("re", _regex(None, v)), (v,))


def _build_regex(term: Term, shape: Any, p: Values, folded: bool) -> Cond:
    _, matches_empty = shape
    found = and_(term.is_type(TEXT), dialect.regexp_match(p[0], term.value()))
    return or_(found, term.is_type(NULL) if matches_empty else False)


# --- membership: in / nin ------------------------------------------------------------------


def _in(x: Any, v: Any) -> bool:
    if isinstance(v, list):
        return any(_equal(x, item) for item in v)
    if isinstance(v, str):
        return isinstance(x, str) and x in v
    return False


def _nin(x: Any, v: Any) -> bool:
    if isinstance(v, list):
        return x is not None and not any(_equal(x, item) for item in v)
    if isinstance(v, str):
        return isinstance(x, str) and x not in v
    return False


def _plan_members(v: Any) -> SqlPlan | None:
    kind = _kind(v)
    if kind == "text":
        return SqlPlan(("str",), (v,))
    if kind != "array":
        return None if kind == "unbindable" else SqlPlan(("never",))
    numbers: list[Any] = []
    texts: list[Any] = []
    has_null = has_container = False
    for item in v:
        item_kind = _kind(item)
        if item_kind == "num":
            numbers.append(_bind(item))
        elif item_kind == "text":
            texts.append(item)
        elif item_kind == "null":
            has_null = True
        elif item_kind in ("array", "object"):
            has_container = True
        elif item_kind != "datetime":  # a datetime equals no stored value
            return None
    shape = ("list", has_null, len(numbers), len(texts), has_container)
    return SqlPlan(shape, (*numbers, *texts), exact=not has_container)


def _build_in(term: Term, shape: Any, p: Values, folded: bool) -> Cond:
    if shape[0] == "never":
        return False
    if shape[0] == "str":
        return and_(
            term.is_type(TEXT),
            exp.GT(this=dialect.instr(p[0], _text(term, folded)), expression=exp.Literal.number(0)),
        )
    _, has_null, n_numbers, n_texts, has_container = shape
    return or_(
        term.is_type(NULL) if has_null else False,
        and_(term.is_type(NUMBER), in_list(term.value(), p.all(0, n_numbers)))
        if n_numbers
        else False,
        and_(term.is_type(TEXT), in_list(_text(term, folded), p.all(n_numbers)))
        if n_texts
        else False,
        term.is_type(CONTAINER) if has_container else False,
    )


def _build_nin(term: Term, shape: Any, p: Values, folded: bool) -> Cond:
    if shape[0] == "never":
        return False
    if shape[0] == "str":
        return and_(
            term.is_type(TEXT),
            exp.EQ(this=dialect.instr(p[0], _text(term, folded)), expression=exp.Literal.number(0)),
        )
    _, _, n_numbers, n_texts, _ = shape
    numbers = term.is_type(NUMBER)
    if n_numbers:
        numbers = and_(numbers, in_list(term.value(), p.all(0, n_numbers), negate=True))
    texts = term.is_type(TEXT)
    if n_texts:
        texts = and_(texts, in_list(_text(term, folded), p.all(n_numbers), negate=True))
    return or_(numbers, texts, term.is_type(CONTAINER))


# --- reverse membership: rin / rnin --------------------------------------------------------


def _rin(x: Any, v: Any) -> bool:
    if isinstance(x, list):
        return any(_equal(item, v) for item in x)
    if isinstance(x, str):
        return isinstance(v, str) and v in x
    return False


def _rnin(x: Any, v: Any) -> bool:
    if isinstance(x, list):
        return not any(_equal(item, v) for item in x)
    if isinstance(x, str):
        return isinstance(v, str) and v not in x
    return False


def _element_equals(shape: Any, p: Values, folded: bool) -> Callable[[Term], Cond]:
    (kind,) = shape

    def build(element: Term) -> Cond:
        if kind == "null":
            return element.is_type(NULL)
        if kind == "num":
            return and_(element.is_type(NUMBER), compare(element.value(), "=", p[0]))
        if kind == "text":
            return and_(element.is_type(TEXT), compare(_text(element, folded), "=", p[0]))
        if kind == "datetime":
            return False
        return element.is_type(frozenset({kind}))

    return build


def _substring_of_x(term: Term, p: Values, folded: bool) -> exp.Expr:
    return dialect.instr(_text(term, folded), p[0])


def _build_rin(term: Term, shape: Any, p: Values, folded: bool) -> Cond:
    in_list_x = term.any_element(_element_equals(shape, p, folded))
    if shape[0] != "text":
        return in_list_x
    in_text_x = and_(
        term.is_type(TEXT),
        exp.GT(this=_substring_of_x(term, p, folded), expression=exp.Literal.number(0)),
    )
    return or_(in_list_x, in_text_x)


def _build_rnin(term: Term, shape: Any, p: Values, folded: bool) -> Cond:
    is_list = term.is_type(frozenset({"array"}))
    if shape[0] in ("array", "object"):
        return is_list  # a superset: whether a list holds an equal list is checked in Python
    not_in_list = and_(is_list, not_exists(term.any_element(_element_equals(shape, p, folded))))
    if shape[0] != "text":
        return not_in_list
    not_in_text = and_(
        term.is_type(TEXT),
        exp.EQ(this=_substring_of_x(term, p, folded), expression=exp.Literal.number(0)),
    )
    return or_(not_in_list, not_in_text)


# --- prefixes and suffixes -----------------------------------------------------------------


def next_prefix(prefix: str) -> str | None:
    """The least string greater than every string starting with ``prefix`` (None: no bound).

    Code-point order is SQLite's byte order for UTF-8, so ``prefix <= x <
    next_prefix(prefix)`` is an exact, index-friendly "starts with".
    """
    chars = list(prefix)
    while chars:
        code = ord(chars[-1])
        if code < 0x10FFFF:
            code += 1
            if 0xD800 <= code <= 0xDFFF:  # surrogates have no UTF-8 form: skip them
                code = 0xE000
            chars[-1] = chr(code)
            return "".join(chars)
        chars.pop()
    return None


def _plan_prefix(v: Any) -> SqlPlan | None:
    if _kind(v) != "text":
        return None
    if v == "":
        return SqlPlan(("prefix", "empty"))
    upper = next_prefix(v)
    if upper is None:
        return SqlPlan(("prefix", "open"), (v,))
    return SqlPlan(("prefix", "range"), (v, upper))


def _starts_with(term: Term, shape: Any, p: Values, folded: bool, negate: bool) -> Cond:
    form = shape[1]
    if form == "empty":
        return False if negate else term.is_type(TEXT)
    value = _text(term, folded)
    if negate:
        below = compare(value, "<", p[0])
        above = compare(value.copy(), ">=", p[1]) if form == "range" else False
        return and_(term.is_type(TEXT), or_(below, above))
    lower = compare(value, ">=", p[0])
    upper = compare(value.copy(), "<", p[1]) if form == "range" else True
    return and_(term.is_type(TEXT), lower, upper)


def _plan_suffix(v: Any) -> SqlPlan | None:
    if _kind(v) != "text":
        return None
    if v == "":
        return SqlPlan(("suffix", "empty"))
    size = len(v.encode("utf-8"))
    return SqlPlan(("suffix", "bytes"), (v, -size, size))


def _ends_with(term: Term, shape: Any, p: Values, folded: bool, negate: bool) -> Cond:
    if shape[1] == "empty":
        return False if negate else term.is_type(TEXT)
    value = _text(term, folded)
    # substr() of an empty blob is NULL, so a too-short x is decided by its length.
    long_enough = compare(dialect.byte_length(value), ">=", p[2])
    tail = compare(dialect.tail_bytes(value.copy(), p[1]), "=", dialect.blob(p[0]))
    if negate:
        short = compare(dialect.byte_length(value.copy()), "<", p[2])
        differs = compare(dialect.tail_bytes(value.copy(), p[1]), "!=", dialect.blob(p[0]))
        return and_(term.is_type(TEXT), or_(short, differs))
    return and_(term.is_type(TEXT), long_enough, tail)


def _string_op(
    name: str,
    test: Callable[[str, str], bool],
    plan: Callable[[Any], SqlPlan | None],
    build: Callable[[Term, Any, Values, bool, bool], Cond],
    negate: bool,
    description: str,
) -> Operator:
    def python(x: Any, v: Any) -> bool:
        return isinstance(x, str) and isinstance(v, str) and test(x, v) != negate

    def bound(term: Term, shape: Any, p: Values, folded: bool) -> Cond:
        return build(term, shape, p, folded, negate)

    return Operator(name, python, plan, bound, needs_string=True, description=description)


# --- the table -----------------------------------------------------------------------------

OPERATORS: dict[str, Operator] = {
    op.name: op
    for op in (
        Operator("=", _equal, _plan_equality, _build_eq, description="x equals v"),
        Operator(
            "!=",
            lambda x, v: not _equal(x, v),
            _plan_equality,
            _build_ne,
            description="x does not equal v",
        ),
        _ordering("<", lambda x, v: x < v),
        _ordering("<=", lambda x, v: x <= v),
        _ordering(">", lambda x, v: x > v),
        _ordering(">=", lambda x, v: x >= v),
        Operator(
            "~",
            _regex,
            _plan_regex,
            _build_regex,
            needs_string=True,
            description="re.match(v, x); null reads as ''",
        ),
        Operator("in", _in, _plan_members, _build_in, description="x is one of v / in text v"),
        Operator(
            "nin", _nin, _plan_members, _build_nin, description="x is none of v / not in text v"
        ),
        Operator(
            "rin", _rin, _plan_equality, _build_rin, description="v is an element of x / in text x"
        ),
        Operator(
            "rnin",
            _rnin,
            _plan_equality,
            _build_rnin,
            description="v is not an element of x / not in text x",
        ),
        _string_op("^", str.startswith, _plan_prefix, _starts_with, False, "x starts with v"),
        _string_op(
            "!^", str.startswith, _plan_prefix, _starts_with, True, "x does not start with v"
        ),
        _string_op("$", str.endswith, _plan_suffix, _ends_with, False, "x ends with v"),
        _string_op("!$", str.endswith, _plan_suffix, _ends_with, True, "x does not end with v"),
    )
}

#: Operators allowed on a ``.$date`` path.
DATE_OPERATORS: frozenset[str] = frozenset({"=", "!=", "<", "<=", ">", ">="})
