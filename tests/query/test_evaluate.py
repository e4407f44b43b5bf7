"""``filter_list`` on inputs the JSON fixture cases cannot express.

The conformance cases in ``fixtures/`` are JSON, so they hold only job-shaped
JSON values. ``filter_list`` accepts any iterable of Python objects: these
examples pin down what it does with non-dict items, datetime objects,
id-less items, tuples, values whose ``__eq__`` raises, one-shot generators,
and that ``select`` never mutates what it was given.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from jobstore import MatchNotFound, QueryError, filter_list

PLUS_2 = timezone(timedelta(hours=2))


# --- items that are not job-shaped ---------------------------------------------------------

ODD_ITEMS: list[Any] = [5, "state", None, [1, 2], {"state": "RUNNING"}, (1,), 2.5, True,
                        {"state": {"nested": 1}}, {}]


def test_non_dict_items_are_walked_like_any_value() -> None:
    # QUERY.md §2 from the root: a scalar item reads MISSING (never matches, not even !=),
    # a null item reads null at any path, and a list item is indexed by digit segments.
    assert filter_list(ODD_ITEMS, [["state", "=", "RUNNING"]]) == [{"state": "RUNNING"}]
    assert filter_list(ODD_ITEMS, [["state", "!=", "x"]]) == [None, {"state": "RUNNING"},
                                                              {"state": {"nested": 1}}]
    assert filter_list(ODD_ITEMS, [["state", "nin", ["x"]]]) == [{"state": "RUNNING"},
                                                                {"state": {"nested": 1}}]
    assert filter_list(ODD_ITEMS, [["state", "=", None]]) == [None]
    assert filter_list(ODD_ITEMS, [["0", "=", 1]]) == [[1, 2]]  # a tuple item is not a list
    assert filter_list(ODD_ITEMS, [["*", ">", 1]]) == [[1, 2]]


def test_non_dict_items_pass_an_empty_filter_in_input_order() -> None:
    # None of them has an id, so all keep their input order.
    assert filter_list(ODD_ITEMS, []) == ODD_ITEMS
    assert filter_list(ODD_ITEMS, [], {"count": True}) == len(ODD_ITEMS)


def test_non_dict_items_sort_and_select_without_error() -> None:
    ordered = filter_list(ODD_ITEMS, [], {"order_by": ["-state"]})
    assert ordered[:2] == [{"state": {"nested": 1}}, {"state": "RUNNING"}]  # others read null
    assert filter_list([5, {"a": 1}], [], {"select": ["a"]}) == [{}, {"a": 1}]


# --- datetime objects ----------------------------------------------------------------------

NAIVE_NOON = {"id": 1, "t": datetime(2026, 11, 1, 12, 0)}  # taken as UTC
AWARE_NOON_PLUS_2 = {"id": 2, "t": datetime(2026, 11, 1, 12, 0, tzinfo=PLUS_2)}  # 10:00 UTC
TEXT_ELEVEN = {"id": 3, "t": "2026-11-01T11:00:00Z"}
DATED = [NAIVE_NOON, AWARE_NOON_PLUS_2, TEXT_ELEVEN]


@pytest.mark.parametrize(("op", "value", "ids"), [
    (">=", "2026-11-01T11:00:00Z", [1, 3]),
    ("<", "2026-11-01T11:00:00", [2]),  # a naive filter value is UTC too
    ("=", "2026-11-01T12:00:00+00:00", [1]),
    ("=", "2026-11-01T12:00:00+02:00", [2]),
    ("!=", "2026-11-01T12:00:00+02:00", [1, 3]),
    (">", "2026-11-01", [1, 2, 3]),  # a date-only value is its midnight
])
def test_date_suffix_reads_datetimes_and_iso_text_as_instants(op: str, value: str,
                                                             ids: list[int]) -> None:
    assert [item["id"] for item in filter_list(DATED, [["t.$date", op, value]])] == ids


def test_datetime_filter_values_compare_only_with_datetimes() -> None:
    # Without .$date, a datetime value is compared by Python: datetimes only, never text.
    assert [j["id"] for j in filter_list(DATED, [["t", "<", datetime(2026, 11, 2)]])] == [1, 2]
    assert [j["id"] for j in filter_list(DATED, [["t", "=", datetime(2026, 11, 1, 12)]])] == [1]
    aware = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)
    assert [j["id"] for j in filter_list(DATED, [["t", "=", aware]])] == [2]
    assert [j["id"] for j in filter_list(DATED, [["t", ">=", aware]])] == [1, 2]
    assert filter_list(DATED, [["t", ">", "2026"]]) == [TEXT_ELEVEN]  # only the string compares


def test_naive_and_aware_datetimes_order_without_type_error() -> None:
    # Python refuses naive < aware; the evaluator reads naive as UTC instead of raising.
    later = datetime(2026, 11, 1, 10, 30)  # naive: 10:30 UTC, after 12:00+02:00
    items = [{"id": 1, "t": later}, AWARE_NOON_PLUS_2]
    assert [j["id"] for j in filter_list(items, [["t", ">", AWARE_NOON_PLUS_2["t"]]])] == [1]
    assert [j["id"] for j in filter_list(items, [["t", "<", later]])] == [2]


def test_non_timestamp_values_do_not_match_a_date_filter() -> None:
    items = [{"id": 1, "t": None}, {"id": 2, "t": 5}, {"id": 3, "t": "soon"}, {"id": 4},
             {"id": 5, "t": ["2026-11-01"]}]
    for op in ("=", "!=", "<", ">="):
        assert filter_list(items, [["t.$date", op, "2026-11-01"]]) == []


# --- items without id ----------------------------------------------------------------------

def test_items_without_id_come_first_in_input_order() -> None:
    items = [{"id": 3}, {"n": "b"}, {"id": 1}, {"n": "a"}, {"id": 2}, {"n": "c"}]
    assert filter_list(items, []) == [{"n": "b"}, {"n": "a"}, {"n": "c"},
                                      {"id": 1}, {"id": 2}, {"id": 3}]


def test_items_without_id_break_ties_first_under_order_by() -> None:
    items = [{"id": 2, "k": 1}, {"k": 1, "n": "x"}, {"id": 1, "k": 1}, {"k": 0, "n": "y"}]
    assert filter_list(items, [], {"order_by": ["k"]}) == [
        {"k": 0, "n": "y"}, {"k": 1, "n": "x"}, {"id": 1, "k": 1}, {"id": 2, "k": 1}]
    assert filter_list(items, [], {"order_by": ["-k"]}) == [
        {"k": 1, "n": "x"}, {"id": 1, "k": 1}, {"id": 2, "k": 1}, {"k": 0, "n": "y"}]


def test_odd_ids_sort_by_the_value_order() -> None:
    # An id is just a value: null < numbers < strings < the rest, so no TypeError.
    items = [{"id": "b"}, {"id": 2}, {"id": None}, {"id": [1]}, {"id": 1.5}]
    assert [item["id"] for item in filter_list(items, [])] == [None, 1.5, 2, "b", [1]]


# --- tuples ----------------------------------------------------------------------------------

def test_tuples_are_entries_like_lists() -> None:
    items = [{"id": 1, "a": 1}, {"id": 2, "a": 2}]
    as_lists = [["OR", [["a", "=", 1], [["a", ">", 1], ["a", "<", 3]]]]]
    as_tuples = (("OR", (("a", "=", 1), (("a", ">", 1), ("a", "<", 3)))),)
    assert filter_list(items, as_tuples) == filter_list(items, as_lists) == items


@pytest.mark.parametrize(("op", "value", "ids"), [
    ("=", (1, 2), [1]),
    ("in", (2, 3), [2]),
    ("nin", (2, 3), [1, 3, 4]),
    ("=", ((1, 2),), []),
    ("rin", (1, 2), [4]),
])
def test_tuple_filter_values_read_as_lists(op: str, value: Any, ids: list[int]) -> None:
    items = [{"id": 1, "a": [1, 2]}, {"id": 2, "a": 2}, {"id": 3, "a": "x"},
             {"id": 4, "a": [[1, 2], 5]}]
    assert [item["id"] for item in filter_list(items, [["a", op, value]])] == ids


def test_tuple_aliased_selector() -> None:
    # A selector may be a tuple (path, alias), as a filter entry may be.
    items = [{"id": 1, "a": {"b": 2}}]
    assert filter_list(items, [], {"select": [("a.b", "x")]}) == [{"x": 2}]
    assert filter_list(items, [], {"select": ("id",)}) == [{"id": 1}]


# --- values whose __eq__ raises -------------------------------------------------------------

class Hostile:
    """A value that raises on every comparison (as some ORM or numpy objects do)."""

    __hash__ = None  # type: ignore[assignment]

    def __eq__(self, other: object) -> bool:
        raise RuntimeError("no equality here")

    def __lt__(self, other: object) -> bool:
        raise RuntimeError("no ordering here")

    def __repr__(self) -> str:
        return "Hostile()"


@pytest.mark.parametrize(("op", "value", "matches"), [
    ("=", 1, False),
    ("!=", 1, True),  # not equal: the comparison could not say they are equal
    ("in", [1, "a"], False),
    ("nin", [1, "a"], True),
    ("<", 1, False),
    ("rin", 1, False),
    ("^", "a", False),
    ("~", "a", False),
    ("C=", "a", False),
])
def test_values_raising_in_eq_do_not_escape(op: str, value: Any, matches: bool) -> None:
    item = {"id": 1, "a": Hostile()}
    assert filter_list([item], [["a", op, value]]) == ([item] if matches else [])


def test_hostile_values_inside_lists_and_in_ordering() -> None:
    item = {"id": 1, "a": [Hostile(), 1], "b": Hostile()}
    other = {"id": 2, "a": [2], "b": 1}
    assert filter_list([item, other], [["a", "rin", 1]]) == [item]
    assert filter_list([item, other], [["a.*", "=", 2]]) == [other]
    assert filter_list([item, other], [["a", "rnin", 1]]) == [other]
    assert filter_list([item, other], [], {"order_by": ["-b"]}) == [item, other]


# --- generators ------------------------------------------------------------------------------

class OneShot:
    """An iterable that may be iterated only once, and counts the items it hands out."""

    def __init__(self, items: list[Any]) -> None:
        self.items = items
        self.iterations = 0
        self.handed_out = 0

    def __iter__(self) -> Iterator[Any]:
        self.iterations += 1
        assert self.iterations == 1, "filter_list iterated its input twice"
        for item in self.items:
            self.handed_out += 1
            yield item


@pytest.mark.parametrize("options", [
    None, {"count": True}, {"get": True}, {"order_by": ["-a"], "limit": 1},
    {"offset": 1, "select": ["a"]},
])
def test_generators_are_consumed_once(options: Any) -> None:
    items = [{"id": i, "a": i % 3} for i in range(1, 7)]
    source = OneShot(items)
    expected = filter_list(list(items), [["a", ">", 0]], options)
    assert filter_list(source, [["a", ">", 0]], options) == expected
    assert source.iterations == 1
    assert source.handed_out == len(items)


def test_a_plain_generator_is_exhausted_by_one_call() -> None:
    generator = ({"id": i} for i in (2, 1))
    assert filter_list(generator, []) == [{"id": 1}, {"id": 2}]
    assert filter_list(generator, []) == []


def test_malformed_query_is_refused_before_the_input_is_read() -> None:
    source = OneShot([{"id": 1}])
    with pytest.raises(QueryError):
        filter_list(source, [["a", "??", 1]])
    assert source.iterations == 0
    with pytest.raises(MatchNotFound):
        filter_list(OneShot([]), [], {"get": True})


# --- select copies, never mutates ----------------------------------------------------------

JOB = {
    "id": 7,
    "progress": {"percent": 40, "description": "x", "extra": {"step": 1, "of": 3}},
    "exc_info": None,
    "result": {"a": {"b": 1}, "list": [1, 2]},
}


@pytest.mark.parametrize("select", [
    ["progress"],
    ["progress", "progress.percent"],
    ["progress.percent", "progress"],
    ["progress", "progress.extra.step"],
    ["progress.extra", "progress.extra.step", ["progress.extra", "e"]],
    [["progress", "p"], "progress.percent"],
    ["result.a", "result.a.b", "result.a.c"],
    ["exc_info.type", "exc_info"],
    ["result", "result.a.b", ["result.a", "x"]],
])
def test_select_never_mutates_the_input(select: list[Any]) -> None:
    # Later selectors write below earlier ones: they must copy the job's dicts, not fill them.
    items = [copy.deepcopy(JOB)]
    snapshot = copy.deepcopy(items)
    selected = filter_list(items, [], {"select": select})
    assert items == snapshot
    assert selected[0] is not items[0]


def test_without_select_the_items_themselves_are_returned() -> None:
    # No copy is made (as with no select in TrueNAS): callers own what they passed in.
    items = [{"id": 1, "a": {"b": 1}}]
    assert filter_list(items, [])[0] is items[0]


@pytest.mark.parametrize(("select", "expected"), [
    (["progress.percent"], {"progress": {"percent": 40}}),
    (["progress.percent", "progress.description"],
     {"progress": {"percent": 40, "description": "x"}}),
    (["exc_info.type"], {"exc_info": None}),
    ([["exc_info.type", "t"]], {"t": None}),
    (["result.a.b", ["result.a.b", "b"]], {"result": {"a": {"b": 1}}, "b": 1}),
    (["missing", "progress.percent.x", "id.x"], {}),
    (["progress.extra", "progress.extra.step"], {"progress": {"extra": {"step": 1, "of": 3}}}),
    ([["progress.percent", "id"], "id"], {"id": 7}),  # a later selector overwrites
])
def test_select_builds_a_new_object(select: list[Any], expected: dict[str, Any]) -> None:
    assert filter_list([copy.deepcopy(JOB)], [], {"select": select}) == [expected]


def test_sorting_uses_the_full_item_not_the_selection() -> None:
    items = [{"id": 1, "k": 2}, {"id": 2, "k": 1}]
    assert filter_list(items, [], {"order_by": ["k"], "select": ["id"]}) == [{"id": 2},
                                                                            {"id": 1}]
