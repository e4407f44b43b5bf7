"""Validation and parsing: raw ``filters`` and ``options`` in, a ``Query`` tree out, or QueryError.

Every malformed input QUERY.md names is refused here, before any job is
read, with a message naming the offending entry; nothing but QueryError
escapes for bad input.
"""

from __future__ import annotations

import re
from collections.abc import Hashable
from datetime import datetime
from types import MappingProxyType
from typing import Any, Literal, NamedTuple

from pydantic import ValidationError

from ..errors import QueryError
from ..jsoncodec import MAX_DEPTH
from ..models import QueryOptions
from ..timeutil import parse_datetime
from .caches import compile_pattern
from .ir import (
    And,
    Comparison,
    Node,
    Options,
    Or,
    OrderKey,
    Position,
    Query,
    Selector,
    position_text,
)
from .ops import DATE_OPERATORS, OPERATORS, fold
from .paths import DATE_SUFFIX, Path, parse_path
from .plainkey import plain_key

__all__ = [
    "MAX_OR_DEPTH",
    "Comparator",
    "checked_value",
    "comparison_with",
    "parse_comparator",
    "parse_filters",
    "parse_options",
    "parse_options_part",
    "parse_query",
]

MAX_OR_DEPTH = 3
#: The ``extra`` keys of get_jobs (QUERY.md §5, §6).
_JOBS_EXTRA = ("raw_result",)
_NULLS_PREFIXES: tuple[tuple[str, Literal["first", "last"]], ...] = (
    ("nulls_first:", "first"),
    ("nulls_last:", "last"),
)


def _fail(position: Position, problem: str) -> QueryError:
    return QueryError(f"{position_text(position)}: {problem}")


class _TooDeep(Exception):
    """Raised by ``_plain``; the caller knows which entry to name."""


def _plain(value: Any, depth: int = 0) -> Any:
    """A copy with tuples read as lists, as they would after a JSON round trip.

    Raises _TooDeep past ``MAX_DEPTH`` levels of lists and objects: no stored
    value nests deeper (jsoncodec refuses it), and the limit keeps this and
    the evaluator far from Python's recursion limit.
    """
    if isinstance(value, tuple | list):
        if depth >= MAX_DEPTH:
            raise _TooDeep
        return [_plain(item, depth + 1) for item in value]
    if isinstance(value, dict):
        if depth >= MAX_DEPTH:
            raise _TooDeep
        return {key: _plain(item, depth + 1) for key, item in value.items()}
    return value


def _too_deep(where: str) -> QueryError:
    return QueryError(f"{where}: lists and objects may nest at most {MAX_DEPTH} levels deep")


def parse_filters(filters: Any) -> And:
    """Parse a filter list into an And node."""
    if filters is None:
        return And(())
    if not isinstance(filters, list | tuple):
        raise QueryError(f"filters must be a list, not {type(filters).__name__}")
    return And(tuple([_entry(entry, (index,), 0) for index, entry in enumerate(filters)]))


def _entry(entry: Any, position: Position, or_depth: int) -> Node:
    if not isinstance(entry, list | tuple):
        raise _fail(position, f"a filter entry must be a list, not {type(entry).__name__}")
    if len(entry) == 3:
        return _comparison(entry, position)
    if len(entry) == 2:
        if not (isinstance(entry[0], str) and entry[0] == "OR"):
            raise _fail(position, f"a 2-element entry must be ['OR', [...]], not {entry[0]!r}")
        return _or(entry, position, or_depth + 1)
    raise _fail(position, f"a filter entry has 3 elements (or 2 for OR), not {len(entry)}")


def _or(entry: Any, position: Position, depth: int) -> Or:
    if depth > MAX_OR_DEPTH:
        raise _fail(position, f"ORs nest at most {MAX_OR_DEPTH} deep")
    branches = entry[1]
    if not isinstance(branches, list | tuple) or not branches:
        raise _fail(position, "an OR needs a non-empty list of branches")
    parsed: list[Node] = []
    for index, branch in enumerate(branches):
        where = (*position, 1, index)
        if not isinstance(branch, list | tuple) or not branch:
            raise _fail(where, "an OR branch must be a non-empty list")
        if isinstance(branch[0], str):
            parsed.append(_entry(branch, where, depth))
        elif isinstance(branch[0], list | tuple):
            children = tuple(_entry(child, (*where, k), depth) for k, child in enumerate(branch))
            parsed.append(And(children, where, [child.source for child in children]))
        else:
            raise _fail(where, "an OR branch is an entry or a list of entries")
    return Or(tuple(parsed), position, ["OR", [node.source for node in parsed]])


def _comparison(entry: Any, position: Position) -> Comparison:
    path_text, op_text, value = entry
    return comparison_with(parse_comparator(path_text, op_text, position), value)


class Comparator(NamedTuple):
    """A comparison entry without its value: ``[path, op, ...]`` at ``position``, parsed."""

    path_text: str
    op_text: str
    path: Path
    op: str  # the base operator
    fold: bool
    position: Position
    # Does checked_value do anything beyond what the value's type already says?
    checks_value: bool


def parse_comparator(path_text: Any, op_text: Any, position: Position) -> Comparator:
    """Parse the path and operator of the comparison entry at ``position``."""
    if not isinstance(path_text, str) or not path_text:
        raise _fail(position, "the path must be a non-empty string")
    if not isinstance(op_text, str):
        raise _fail(position, f"unknown operator {op_text!r}")
    folded = op_text.startswith("C") and op_text[1:] in OPERATORS
    base = op_text[1:] if folded else op_text
    if base not in OPERATORS:
        raise _fail(position, f"unknown operator {op_text!r}")
    if folded and base == "~":
        raise _fail(position, "'C~' is not an operator (use a (?i) pattern)")
    path = parse_path(path_text)
    checks_value = path.is_date or OPERATORS[base].needs_string or folded
    return Comparator(path_text, op_text, path, base, folded, position, checks_value)


def comparison_with(comparator: Comparator, value: Any) -> Comparison:
    """The comparison of ``comparator`` against ``value``, or QueryError if the value does not fit.

    Separate from ``parse_comparator`` so that a remembered entry shape
    (query.prepared) can take new values without parsing its path again.
    """
    if isinstance(value, list | tuple | dict):
        try:
            value = _plain(value)
        except _TooDeep:
            raise _too_deep(position_text(comparator.position)) from None
    # The entry as given, rebuilt from our own copies: a remembered query
    # (query.prepared) must not show what a caller later wrote into its lists.
    source = [comparator.path_text, comparator.op_text, value]
    return Comparison(
        comparator.path,
        comparator.op,
        checked_value(comparator, value),
        comparator.fold,
        comparator.position,
        source,
    )


def checked_value(comparator: Comparator, value: Any) -> Any:
    """``value`` as ``comparator``'s comparison holds it (folded, a datetime), or QueryError."""
    if not comparator.checks_value:
        return value
    base, position = comparator.op, comparator.position
    if comparator.path.is_date:
        value = _date_value(
            comparator.path_text, comparator.op_text, base, comparator.fold, value, position
        )
    elif OPERATORS[base].needs_string:
        if not isinstance(value, str):
            raise _fail(
                position, f"{comparator.op_text!r} needs a string value, not {type(value).__name__}"
            )
        if base == "~":
            try:
                compile_pattern(value)
            except (re.error, RecursionError, OverflowError, ValueError) as exc:
                raise _fail(position, f"the pattern does not compile: {exc}") from None
    if comparator.fold:
        value = fold(value)
    return value


def _date_value(
    path_text: str, op_text: str, base: str, folded: bool, value: Any, position: Position
) -> datetime:
    if folded or base not in DATE_OPERATORS:
        raise _fail(position, f"'.$date' allows only {sorted(DATE_OPERATORS)}, not {op_text!r}")
    if not path_text.removesuffix(".$date"):
        raise _fail(position, "'.$date' needs a field before it")
    parsed = parse_datetime(value) if isinstance(value, str) else None
    if parsed is None:
        raise _fail(position, f"'.$date' needs an ISO-8601 string, not {value!r}")
    return parsed


def _order_key(text: Any, index: int) -> OrderKey:
    where = f"order_by[{index}]"
    if not isinstance(text, str):
        raise QueryError(f"{where}: must be a string, not {type(text).__name__}")
    nulls = None
    for prefix, placement in _NULLS_PREFIXES:
        if text.startswith(prefix):
            text, nulls = text[len(prefix) :], placement
            break
    descending = text.startswith("-")
    if descending:
        text = text[1:]
    if not text:
        raise QueryError(f"{where}: empty path")
    path = parse_path(text)
    if path.is_date:
        raise QueryError(f"{where}: '.$date' is not needed to sort timestamps")
    if path.has_fanout:
        raise QueryError(f"{where}: cannot sort by a '*' path")
    return OrderKey(path, descending, nulls)


def _selector(item: Any, index: int) -> Selector:
    where = f"select[{index}]"
    alias = None
    if isinstance(item, list | tuple):
        if len(item) != 2 or not all(isinstance(part, str) for part in item):
            raise QueryError(f"{where}: an aliased selector is [path, alias], two strings")
        item, alias = item
    if not isinstance(item, str) or not item:
        raise QueryError(f"{where}: a selector is a non-empty path string or [path, alias]")
    path = parse_path(item)
    if path.is_date:  # '.$date' means nothing in select: it is a plain key there
        path = Path(item, (*path.segments, DATE_SUFFIX))
    return Selector(path, alias)


def parse_options(options: Any) -> QueryOptions:
    """Validate ``options`` against the reference API's option set."""
    if options is None:
        return QueryOptions()
    if isinstance(options, QueryOptions):
        return options
    if not isinstance(options, dict):
        raise QueryError(f"options must be an object, not {type(options).__name__}")
    if isinstance(options.get("select"), list | tuple):
        # Tuples read as lists, as in filters ([path, alias] may be a pair).
        try:
            options = {**options, "select": _plain(options["select"])}
        except _TooDeep:
            raise _too_deep("options.select") from None
    try:
        return QueryOptions.model_validate(options)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = first["loc"]
        if loc[0] == "select" and len(loc) > 1 and isinstance(loc[1], int):
            # pydantic names the union branch it tried ("select[0].str"); the
            # parser's own check of a selector says what a selector is.
            _selector(options["select"][loc[1]], loc[1])
        # ("order_by", 0) -> "options.order_by[0]": the parser's own way of naming entries.
        name = "options" + "".join(
            f"[{part}]" if isinstance(part, int) else f".{part}" for part in first["loc"]
        )
        raise QueryError(f"{name}: {first['msg']}") from None


# Parsed options by their exact content. Clients repeat the same few options
# ({"get": True}, {"count": True}, an order and a limit), and validating them
# through the pydantic model costs more than a small query's SQL.
_OPTIONS_MEMO: dict[Hashable, Options] = {}
_OPTIONS_MEMO_SIZE = 256


def parse_options_part(options: Any) -> Options:
    """``options`` validated and parsed into the fields a Query takes (remembered by content)."""
    key = plain_key(options)
    if key is not None:
        parsed = _OPTIONS_MEMO.get(key)
        if parsed is not None:
            return parsed
    parsed = _validate_options(options)
    if key is not None:
        if len(_OPTIONS_MEMO) >= _OPTIONS_MEMO_SIZE:
            _OPTIONS_MEMO.clear()  # a burst of distinct options: start over, never grow
        _OPTIONS_MEMO[key] = parsed
    return parsed


def _validate_options(options: Any) -> Options:
    parsed = parse_options(options)
    order_by = tuple(_order_key(text, i) for i, text in enumerate(parsed.order_by))
    select = tuple(_selector(item, i) for i, item in enumerate(parsed.select))
    raw_result = parsed.extra.get("raw_result")
    if raw_result is not None and not isinstance(raw_result, bool):
        # Checked here, not only by get_jobs, so every entry point refuses the same query.
        raise QueryError(f"extra.raw_result must be a boolean, not {type(raw_result).__name__}")
    if parsed.get:
        if parsed.count:
            raise QueryError("options: 'get' cannot be combined with 'count'")
        if parsed.offset > 0:
            raise QueryError("options: 'get' cannot be combined with an offset")
        if parsed.limit > 1:
            raise QueryError("options: 'get' cannot be combined with a limit above 1")
    return Options(
        order_by=order_by,
        select=select,
        count=parsed.count,
        get=parsed.get,
        offset=parsed.offset,
        limit=parsed.limit,
        force_sql_filters=parsed.force_sql_filters,
        extra=_extra_copy(parsed.extra),
    )


def _extra_copy(extra: dict[str, Any]) -> MappingProxyType[str, Any]:
    """The keys of ``extra`` that jobs read (``raw_result``, a checked bool).

    Unknown keys are ignored (QUERY.md §5): dropped here, so nothing in them,
    however large or deep, is copied or checked, and memoised options never
    hold on to a caller's objects.
    """
    return MappingProxyType({key: extra[key] for key in _JOBS_EXTRA if key in extra})


def parse_query(filters: Any = None, options: Any = None) -> Query:
    """Validate and parse a whole query (QUERY.md §1–§5)."""
    where = parse_filters(filters)
    return Query(where, parse_options_part(options))
