"""The Python evaluator: the reference meaning of a query (QUERY.md), over any iterable of dicts."""

from __future__ import annotations

import itertools
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from ..errors import MatchNotFound, QueryError
from ..timeutil import parse_datetime
from .functions import canonical_json_text
from .ir import And, Comparison, Node, Options, OrderKey, Query, Selector
from .ops import OPERATORS, fold
from .parse import parse_query
from .paths import MISSING, walk

__all__ = [
    "apply_select",
    "filter_list",
    "matches",
    "order_items",
    "page",
    "sort_value",
    "the_match",
]


def _compare(node: Comparison, item: Any) -> bool:
    operator = OPERATORS[node.op].python
    for found in walk(item, node.path.segments):
        if node.path.is_date:
            found = parse_datetime(found)
            if found is None:
                continue
        elif node.fold:
            found = fold(found)
        if operator(found, node.value):
            return True
    return False


def matches(node: Node, item: Any) -> bool:
    """Does ``item`` satisfy the filter tree ``node``?"""
    if isinstance(node, Comparison):
        return _compare(node, item)
    if isinstance(node, And):
        return all(matches(child, item) for child in node.children)
    return any(matches(branch, item) for branch in node.branches)


# --- ordering ------------------------------------------------------------------------------


def sort_value(value: Any) -> tuple[int, Any]:
    """QUERY.md's order of values: null < numbers < strings < anything else (by JSON text)."""
    if value is None or value is MISSING:
        return (0, 0)
    if isinstance(value, int | float):
        return (1, value)
    if isinstance(value, str):
        return (2, value)
    try:
        return (3, canonical_json_text(value))
    except (TypeError, ValueError, RecursionError):
        return (3, repr(value))


def _first_value(item: Any, key: OrderKey) -> Any:
    return next(walk(item, key.path.segments), MISSING)


def _key_function(key: OrderKey) -> Callable[[Any], tuple[int, int, Any]]:
    # Nulls get their own leading rank so that the prefix can place them
    # either end whatever the direction of the rest.
    null_rank = 1 if key.nulls_first == key.descending else 0

    def sort_key(item: Any) -> tuple[int, int, Any]:
        kind, value = sort_value(_first_value(item, key))
        if kind == 0:
            return (null_rank, 0, 0)
        return (1 - null_rank, kind, value)

    return sort_key


def order_items(items: list[Any], order_by: tuple[OrderKey, ...]) -> list[Any]:
    """Sort by the keys (first one primary), ties by id ascending (id-less items first)."""
    ordered = sorted(items, key=lambda item: sort_value(_first_value_of_id(item)))
    for key in reversed(order_by):
        ordered.sort(key=_key_function(key), reverse=key.descending)
    return ordered


def _first_value_of_id(item: Any) -> Any:
    return item.get("id", MISSING) if isinstance(item, dict) else MISSING


# --- select --------------------------------------------------------------------------------


def _place(output: dict[str, Any], segments: tuple[str, ...], value: Any) -> None:
    node = output
    for segment in segments[:-1]:
        child = node.get(segment)
        # Copy on the way down: an earlier selector may have placed the job's own dict here.
        child = dict(child) if isinstance(child, dict) else {}
        node[segment] = child
        node = child
    node[segments[-1]] = value


def _select_one(item: Any, selector: Selector, output: dict[str, Any]) -> None:
    segments = selector.path.segments
    value = item
    for depth, segment in enumerate(segments):
        if value is None and depth > 0:
            placed_at = segments[:depth]
            if selector.alias is not None:
                output[selector.alias] = None
            else:
                _place(output, placed_at, None)
            return
        if isinstance(value, dict):
            if segment not in value:
                return
            value = value[segment]
        elif isinstance(value, list):
            raise QueryError(
                f"select: {selector.path.text!r}: selecting by list index is not supported"
            )
        else:
            return
    if selector.alias is not None:
        output[selector.alias] = value
    else:
        _place(output, segments, value)


def apply_select(item: Any, select: tuple[Selector, ...]) -> Any:
    """Build the object ``select`` asks for (the whole item when there are no selectors)."""
    if not select:
        return item
    output: dict[str, Any] = {}
    for selector in select:
        _select_one(item, selector, output)
    return output


# --- the whole query -----------------------------------------------------------------------


def page(options: Options, ordered: Iterable[Any], *, windowed: bool = False) -> Any:
    """Apply offset, limit, get and select to items already filtered and ordered.

    ``windowed``: the database already applied offset and limit.
    """
    window: Iterator[Any]
    if windowed:
        window = iter(ordered)
    else:
        offset, limit = options.offset, options.limit
        # islice refuses indices above sys.maxsize; no iterable is that long, so clamping is exact.
        stop = min(offset + limit, sys.maxsize) if limit else None
        window = itertools.islice(ordered, min(offset, sys.maxsize), stop)
    if options.get:
        return the_match(next(window, MISSING), options.select)
    return [apply_select(item, options.select) for item in window]


def the_match(first: Any, select: tuple[Selector, ...]) -> Any:
    """``get``'s answer: the first match selected, or MatchNotFound if it is ``MISSING``."""
    if first is MISSING:
        raise MatchNotFound("no job matches the query")
    return apply_select(first, select)


def run_python(query: Query, items: Iterable[Any]) -> Any:
    """Evaluate a parsed query over ``items`` entirely in Python."""
    found = [item for item in items if matches(query.where, item)]
    options = query.options
    if options.count:
        return len(found)
    return page(options, order_items(found, options.order_by))


def filter_list(items: Iterable[Any], filters: Any = None, options: Any = None) -> Any:
    """Query any iterable of dicts with ``core.get_jobs`` filters and options.

    >>> filter_list([{"id": 1, "state": "RUNNING"}, {"id": 2, "state": "FAILED"}],
    ...             [["state", "=", "FAILED"]], {"select": ["id"]})
    [{'id': 2}]
    """
    return run_python(parse_query(filters, options), items)
