"""Malformed filters and options raise QueryError, and only QueryError, naming the entry.

Two halves: hypothesis throws random garbage in every position at
``filter_list``, ``get_jobs`` and ``explain`` and checks that nothing but
QueryError (or MatchNotFound for a well-formed ``get`` that finds nothing)
escapes; a table lists every malformed form QUERY.md §1 and §5 name, each
with the text its message must contain to point the caller at the culprit.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import jobstore
from jobstore import MatchNotFound, QueryError

from .strategies import BASE_OPS, PATHS, rich_jobs

GARBAGE = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# --- strategies: anything at all, biased towards almost-valid -----------------------------

OPERATOR_TEXTS = [*BASE_OPS, *("C" + op for op in BASE_OPS), "C~", "==", "", "c=", "IN", "OR",
                  "=~", "C", "CC=", " =", "= "]
PATH_TEXTS = [*PATHS, "", ".", "..", "$date", ".$date", "a.$date", "time_finished.$date",
              "time_started.$date.$date", "result.*.$date", "\\", "\\.", "a\\", "*", "id.*",
              'result.a"b', "result.a\\b", "result.\x00", "\ud800", "OR"]
BAD_PATTERNS = ["(", ")", "[", "*", "a{2,1}", "(?P<x>a)(?P<x>b)", "\\", "(?<=a+)b", "(?i"]
DATE_TEXTS = ["2026-11-01", "2026-11-01T00:00:00Z", "yesterday", "", "2026-13-01",
              "2026-11-01T25:00:00", "99999-01-01", "2026-11-01T00:00:00+25:00"]
OPTION_KEYS = ["extra", "order_by", "select", "count", "get", "offset", "limit",
               "force_sql_filters", "filters", "bogus", "", "Count", "raw_result"]

atoms = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([2**63, -(2**63) - 1, 2**200, -1, 0, 1]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=6),
    st.sampled_from(OPERATOR_TEXTS + PATH_TEXTS + BAD_PATTERNS + DATE_TEXTS),
    st.binary(max_size=3),
    st.just(object()),
)
anything = st.recursive(
    atoms,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=4).map(tuple),
        st.dictionaries(st.one_of(st.text(max_size=4), st.integers(), st.none()), inner,
                        max_size=3),
        st.frozensets(st.integers(), max_size=2),
    ),
    max_leaves=10,
)


def _sequence(items: st.SearchStrategy[list[Any]]) -> st.SearchStrategy[Any]:
    """Lists and tuples alike: the parser must treat both as entries."""
    return st.one_of(items, items.map(tuple))


@st.composite
def near_comparisons(draw: Any) -> Any:
    """A 3-element entry with each position either plausible or random."""
    path = draw(st.one_of(st.sampled_from(PATH_TEXTS), anything))
    op = draw(st.one_of(st.sampled_from(OPERATOR_TEXTS), anything))
    value = draw(st.one_of(st.sampled_from(BAD_PATTERNS + DATE_TEXTS), anything))
    return draw(_sequence(st.just([path, op, value])))


def _entries(depth: int) -> st.SearchStrategy[Any]:
    """Entries and ORs nested up to six deep (three is the limit), with random damage."""
    leaf = st.one_of(near_comparisons(), anything)
    if depth >= 6:
        return leaf
    inner = _entries(depth + 1)
    branch = st.one_of(inner, st.lists(inner, max_size=3), anything)
    return st.one_of(
        leaf,
        _sequence(st.tuples(st.sampled_from(["OR", "OR", "or", "AND"]),
                            st.one_of(st.lists(branch, max_size=3), anything)).map(list)),
        _sequence(st.lists(st.one_of(st.just("OR"), inner, anything), max_size=5)),
    )


garbage_filters = st.one_of(_sequence(st.lists(_entries(0), max_size=3)), anything)


@st.composite
def garbage_options(draw: Any) -> Any:
    """Options with known and unknown keys, each given a plausible or random value."""
    if draw(st.integers(0, 9)) == 0:
        return draw(anything)
    plausible = {
        "order_by": st.lists(st.one_of(st.sampled_from(PATH_TEXTS).flatmap(
            lambda p: st.sampled_from([p, "-" + p, "nulls_first:" + p, "nulls_last:-" + p])),
            anything), max_size=3),
        "select": st.lists(st.one_of(st.sampled_from(PATH_TEXTS),
                                     st.lists(st.sampled_from(PATH_TEXTS), max_size=3),
                                     anything), max_size=3),
        "count": st.booleans(), "get": st.booleans(), "force_sql_filters": st.booleans(),
        "offset": st.integers(-2, 3), "limit": st.integers(-2, 3),
        "extra": st.dictionaries(st.sampled_from(["raw_result", "x"]), anything, max_size=2),
    }
    chosen: dict[Any, Any] = {}
    for key in draw(st.lists(st.one_of(st.sampled_from(OPTION_KEYS), anything.filter(
            lambda k: isinstance(k, str | int | None))), max_size=4)):
        strategy = plausible.get(key) if isinstance(key, str) else None
        chosen[key] = draw(st.one_of(strategy, anything) if strategy is not None else anything)
    return chosen


# --- the property ---------------------------------------------------------------------------


def _only_query_errors(call: Callable[[], Any]) -> None:
    """Run ``call``; a QueryError or MatchNotFound is an answer, any other exception a bug."""
    with contextlib.suppress(QueryError, MatchNotFound):
        call()


@pytest.fixture(scope="module")
def store() -> Iterator[jobstore.JobStore]:
    with jobstore.JobStore(":memory:") as opened:
        opened.insert_many(rich_jobs())
        yield opened


@pytest.fixture(scope="module")
def items(store: jobstore.JobStore) -> list[dict[str, Any]]:
    return store.get_jobs()  # type: ignore[return-value]


@GARBAGE
@given(filters=garbage_filters, options=garbage_options())
def test_garbage_raises_only_query_error(store: jobstore.JobStore, items: list[dict[str, Any]],
                                         filters: Any, options: Any) -> None:
    _only_query_errors(lambda: jobstore.filter_list(items, filters, options))
    _only_query_errors(lambda: store.get_jobs(filters, options))
    _only_query_errors(lambda: store.explain(filters, options))


@GARBAGE
@given(filters=garbage_filters)
def test_garbage_filters_alone(store: jobstore.JobStore, items: list[dict[str, Any]],
                               filters: Any) -> None:
    # Without options most examples get past option validation and reach the filters.
    _only_query_errors(lambda: jobstore.filter_list(items, filters))
    _only_query_errors(lambda: store.get_jobs(filters))
    _only_query_errors(lambda: store.explain(filters, {"force_sql_filters": True}))


@GARBAGE
@given(filters=garbage_filters, options=garbage_options())
def test_garbage_is_refused_the_same_way_everywhere(
    store: jobstore.JobStore, items: list[dict[str, Any]], filters: Any, options: Any
) -> None:
    """Validation happens before any job is read: every entry point refuses or none does."""

    def refused(call: Callable[[], Any]) -> str | None:
        try:
            call()
        except QueryError as exc:
            return str(exc)
        except MatchNotFound:
            return None
        return None

    by_evaluator = refused(lambda: jobstore.filter_list([], filters, options))
    by_explain = refused(lambda: store.explain(filters, options))
    if by_explain is not None and not by_explain.startswith("force_sql_filters"):
        assert by_evaluator == by_explain


def test_deep_or_nesting_is_refused_not_recursion_error() -> None:
    entry: Any = ["id", "=", 1]
    for _ in range(5000):
        entry = ["OR", [entry]]
    where = re.escape("filters[0][1][0][1][0][1][0]")
    with pytest.raises(QueryError, match=where + ": ORs nest at most 3 deep"):
        jobstore.filter_list([], [entry])


def _nested(depth: int, leaf: Any = 1) -> Any:
    value = leaf
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


def test_deeply_nested_value_is_refused_not_recursion_error() -> None:
    with pytest.raises(QueryError, match=re.escape("filters[1][1][0]: lists and objects")):
        jobstore.filter_list(
            [{"id": 1}], [["id", "=", 1], ["OR", [["id", "=", _nested(5000)]]]]
        )


def test_the_deepest_storable_value_can_be_queried(tmp_path: Any) -> None:
    """Values nest at most 100 levels, stored or in a filter: a filter spells any stored value."""
    with jobstore.JobStore(tmp_path / "deep.db") as store:
        store.insert_many([{"method": "m", "result": _nested(100)}, {"method": "n"}])
        with pytest.raises(jobstore.InvalidJob, match="result': lists and objects may nest"):
            store.insert_many([{"method": "m", "result": _nested(101)}])
        assert isinstance(_nested(100), list)
        for filters in (
            [["result", "=", _nested(100)]],
            [["result.0", "=", _nested(99)]],
            [["result", "rin", _nested(99)]],
        ):
            found = store.get_jobs(filters)
            assert [job["method"] for job in found] == ["m"]
            assert jobstore.filter_list(store.get_jobs(), filters) == found
        for bad in ([["result", "=", _nested(101)]], [["result", "in", [_nested(100)]]]):
            with pytest.raises(QueryError, match=re.escape("filters[0]: lists and objects")):
                store.get_jobs(bad)
            with pytest.raises(QueryError, match=re.escape("filters[0]: lists and objects")):
                jobstore.filter_list([], bad)


# --- the table: every malformed form the spec names ---------------------------------------

# (filters, options, a fragment the message must contain)
MALFORMED: list[tuple[Any, Any, str]] = [
    # §1 filters
    ("state", None, "filters must be a list"),
    ({"state": "RUNNING"}, None, "filters must be a list"),
    ([5], None, "filters[0]"),
    ([["id", "=", 1], "state"], None, "filters[1]"),
    ([None], None, "filters[0]"),
    ([[]], None, "filters[0]"),
    ([["id"]], None, "filters[0]"),
    ([["id", "=", 1, 2]], None, "filters[0]"),
    ([["id", "="], ["id", "=", 1]], None, "filters[0]"),
    ([["AND", [["id", "=", 1]]]], None, "filters[0]"),
    ([["or", [["id", "=", 1]]]], None, "filters[0]"),
    ([["OR", []]], None, "filters[0]"),
    ([["OR", "id"]], None, "filters[0]"),
    ([["OR", None]], None, "filters[0]"),
    ([["OR", [[]]]], None, "filters[0][1][0]"),
    ([["OR", [["id", "=", 1], []]]], None, "filters[0][1][1]"),
    ([["OR", [5]]], None, "filters[0][1][0]"),
    ([["OR", [[5]]]], None, "filters[0][1][0]"),
    ([["OR", [[["id", "=", 1], ["id", "??", 1]]]]], None, "filters[0][1][0][1]"),
    ([["OR", [["OR", [["OR", [["OR", [["id", "=", 1]]]]]]]]]], None,
     "filters[0][1][0][1][0][1][0]"),
    ([["", "=", 1]], None, "filters[0]"),
    ([[1, "=", 1]], None, "filters[0]"),
    ([[None, "=", 1]], None, "filters[0]"),
    ([[["id"], "=", 1]], None, "filters[0]"),
    ([["id", "==", 1]], None, "'=='"),
    ([["id", "c=", 1]], None, "'c='"),
    ([["id", None, 1]], None, "filters[0]"),
    ([["id", 5, 1]], None, "filters[0]"),
    ([["id", "CC=", 1]], None, "'CC='"),
    ([["method", "C~", "a"]], None, "C~"),
    *[([["method", op, 5]], None, "filters[0]") for op in
      ("~", "^", "!^", "$", "!$", "C^", "C!^", "C$", "C!$")],
    ([["method", "^", None]], None, "filters[0]"),
    ([["method", "$", ["a"]]], None, "filters[0]"),
    ([["method", "~", "("]], None, "does not compile"),
    ([["method", "~", "a{2,1}"]], None, "filters[0]"),
    ([["method", "~", "(?P<x>a)(?P<x>b)"]], None, "filters[0]"),
    ([["time_finished.$date", "in", ["2026-11-01"]]], None, "filters[0]"),
    ([["time_finished.$date", "^", "2026"]], None, "filters[0]"),
    ([["time_finished.$date", "C=", "2026-11-01"]], None, "filters[0]"),
    ([["time_finished.$date", "~", "2026"]], None, "filters[0]"),
    ([["time_finished.$date", "=", 5]], None, "filters[0]"),
    ([["time_finished.$date", "=", None]], None, "filters[0]"),
    ([["time_finished.$date", ">", "yesterday"]], None, "filters[0]"),
    ([["time_finished.$date", ">", "2026-13-01"]], None, "filters[0]"),
    ([["time_finished.$date", ">", ["2026-11-01"]]], None, "filters[0]"),
    ([[".$date", ">", "2026-11-01"]], None, "filters[0]"),
    ([["id", "=", 1], ["OR", [["time_started.$date", "rin", "x"]]]], None, "filters[1][1][0]"),
    # §5 options
    ([], "count", "options must be an object"),
    ([], [["count", True]], "options must be an object"),
    ([], {"bogus": 1}, "bogus"),
    ([], {"filters": []}, "filters"),
    ([], {"Count": True}, "Count"),
    ([], {"count": 1}, "count"),
    ([], {"count": "true"}, "count"),
    ([], {"count": None}, "count"),
    ([], {"get": 1}, "get"),
    ([], {"force_sql_filters": "yes"}, "force_sql_filters"),
    ([], {"offset": 1.0}, "offset"),
    ([], {"offset": "1"}, "offset"),
    ([], {"offset": True}, "offset"),
    ([], {"offset": -1}, "offset"),
    ([], {"limit": 2.5}, "limit"),
    ([], {"limit": None}, "limit"),
    ([], {"limit": False}, "limit"),
    ([], {"limit": -1}, "limit"),
    ([], {"order_by": "-id"}, "order_by"),
    ([], {"order_by": None}, "order_by"),
    ([], {"order_by": [5]}, "order_by"),
    ([], {"order_by": [""]}, "order_by[0]"),
    ([], {"order_by": ["id", "-"]}, "order_by[1]"),
    ([], {"order_by": ["nulls_first:"]}, "order_by[0]"),
    ([], {"order_by": ["nulls_last:-"]}, "order_by[0]"),
    ([], {"order_by": ["result.*"]}, "order_by[0]"),
    ([], {"order_by": ["arguments.*.a"]}, "order_by[0]"),
    ([], {"order_by": ["-time_finished.$date"]}, "order_by[0]"),
    ([], {"select": "id"}, "select"),
    ([], {"select": {"id": 1}}, "select"),
    ([], {"select": [5]}, "select[0]: a selector is a non-empty path string"),
    ([], {"select": ["id", 5]}, "select[1]: a selector is a non-empty path string"),
    ([], {"select": [""]}, "select[0]"),
    ([], {"select": ["id", ["id"]]}, "select[1]"),
    ([], {"select": [["id", "a", "b"]]}, "select[0]"),
    ([], {"select": [["id", 1]]}, "select[0]: an aliased selector is [path, alias]"),
    ([], {"select": [["", "a"]]}, "select[0]"),
    ([], {"extra": []}, "extra"),
    ([], {"extra": "raw_result"}, "extra"),
    ([], {"get": True, "count": True}, "count"),
    ([], {"get": True, "offset": 1}, "offset"),
    ([], {"get": True, "limit": 2}, "limit"),
]


def _ids(case: tuple[Any, Any, str]) -> str:
    filters, options, _ = case
    return repr(options if options is not None else filters)[:60]


@pytest.mark.parametrize(("filters", "options", "names"), MALFORMED,
                         ids=[_ids(case) for case in MALFORMED])
def test_malformed_query_names_the_entry(store: jobstore.JobStore, filters: Any, options: Any,
                                         names: str) -> None:
    # Each entry point refuses it, before reading anything, with a message naming the culprit.
    calls: list[Callable[[], Any]] = [
        lambda: jobstore.filter_list([{"id": 1, "method": "a"}], filters, options),
        lambda: store.get_jobs(filters, options),
        lambda: store.explain(filters, options),
    ]
    for call in calls:
        with pytest.raises(QueryError) as caught:
            call()
        assert names in str(caught.value)
        assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize("options", [{"order_by": [5]}, {"select": [5]}])
def test_option_items_name_their_index(options: dict[str, Any]) -> None:
    # The item's index must be in the message, as order_by[0] or options.order_by.0.
    name = next(iter(options))
    with pytest.raises(QueryError, match=rf"{name}(\[0\]|\.0)"):
        jobstore.filter_list([], [], options)


def test_selecting_through_a_list_is_a_query_error(store: jobstore.JobStore) -> None:
    # Raised only when a returned job meets the list (QUERY.md §5), and counting never selects.
    jobs = [{"id": 1, "message_ids": ["a"]}]
    with pytest.raises(QueryError, match="list index"):
        jobstore.filter_list(jobs, [], {"select": ["message_ids.0"]})
    assert jobstore.filter_list(jobs, [], {"select": ["message_ids.0"], "count": True}) == 1
    assert jobstore.filter_list(jobs, [["id", "=", 2]], {"select": ["message_ids.0"]}) == []
    with pytest.raises(QueryError, match=re.escape("'message_ids.0'")):
        store.get_jobs([], {"select": ["message_ids.0"], "limit": 1})


def test_force_sql_filters_refusal_names_the_entry(store: jobstore.JobStore) -> None:
    filters = [["id", ">", 0], ["result", "=", {"a": 1}]]
    with pytest.raises(QueryError, match=re.escape("filters[1]")):
        store.get_jobs(filters, {"force_sql_filters": True})
    # filter_list has no database: it accepts the option and ignores it.
    assert jobstore.filter_list([{"id": 1, "result": {"a": 1}}], filters,
                                {"force_sql_filters": True}) == [{"id": 1, "result": {"a": 1}}]


@pytest.mark.parametrize("options", [
    {"limit": 2**70}, {"offset": 2**70}, {"offset": 1, "limit": 2**64}, {"limit": 2**63},
])
def test_huge_limit_and_offset_are_answers_not_errors(store: jobstore.JobStore,
                                                      options: dict[str, Any]) -> None:
    # QUERY.md §5: "no maximum"; islice and SQLite's int64 binding must not leak out.
    every = store.get_jobs()
    assert isinstance(every, list)
    expected = every[min(options.get("offset", 0), len(every)):]
    assert store.get_jobs([], options) == expected
    assert store.get_jobs([["result", "=", {"x": 1}]], options) == []  # residual: Python pages
    assert jobstore.filter_list(every, [], options) == expected
