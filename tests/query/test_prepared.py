"""Remembered queries (``jobstore.query.prepared``): a repeat is served from the memo, and
only ever when re-parsing would give the very same query."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import jobstore
from jobstore.access import Caller
from jobstore.query import plainkey, prepared
from jobstore.query.compile import INTERNAL, View, compile_query
from jobstore.query.parse import parse_query

from .strategies import comparisons, options, same_type_values


@pytest.fixture
def filled(store: jobstore.JobStore) -> Iterator[jobstore.JobStore]:
    store.insert_many(
        [
            {"method": "pool.scrub", "state": "SUCCESS", "result": {"n": 1}},
            {"method": "pool.scrub", "state": "FAILED", "result": {"n": 1.0}},
            {"method": "update", "state": "RUNNING", "result": {"n": True}},
            {"method": "update.check", "state": "WAITING", "result": {"n": "1"}},
        ]
    )
    prepared.clear()
    yield store
    prepared.clear()


@pytest.mark.parametrize(
    ("one", "other"),
    [
        (1, 1.0),
        (1, True),
        (0, False),
        (0.0, -0.0),
        ("1", 1),
        (None, "None"),
        ([1], [[1]]),
        ({"a": 1}, {"a": 1.0}),
        ({"a": 1, "b": 2}, {"b": 2, "a": 1}),  # key order: a miss, never a wrong hit
    ],
)
def test_fingerprints_tell_apart_what_the_language_tells_apart(one: Any, other: Any) -> None:
    assert prepared.fingerprint([["x", "=", one]], None) != prepared.fingerprint(
        [["x", "=", other]], None
    )


def test_a_tuple_never_passes_for_a_list(filled: jobstore.JobStore) -> None:
    """Filters read tuples as lists, but the options model refuses a tuple where it wants a
    list: a remembered list-form query must not let its tuple twin through."""
    assert prepared.fingerprint([("x", "in", (1, 2))], {}) != prepared.fingerprint(
        [["x", "in", [1, 2]]], {}
    )
    for _ in range(2):  # remembered (whole query and options)
        filled.get_jobs([], {"order_by": ["-id"]})
        jobstore.filter_list([], [], {"order_by": ["-id"]})
    for ask in (
        lambda: filled.get_jobs([], {"order_by": ("-id",)}),
        lambda: jobstore.filter_list([], [], {"order_by": ("-id",)}),
        lambda: filled.explain([], {"order_by": ("-id",)}),
    ):
        with pytest.raises(jobstore.QueryError, match="order_by"):
            ask()
    # and filters given as tuples still answer as their list form does
    assert filled.get_jobs([("method", "=", "update")]) == filled.get_jobs(
        [["method", "=", "update"]]
    )


def test_remembered_options_hold_none_of_the_callers_extra() -> None:
    """Unknown extra keys are ignored (QUERY.md §5): not kept, so not shared with the caller."""
    extra = {"raw_result": True, "note": ["mine"]}
    for _ in range(2):
        query = parse_query([], {"extra": extra})
    extra["raw_result"] = False
    extra["note"].append("written later")
    assert dict(query.options.extra) == {"raw_result": True}
    assert dict(parse_query([], {"extra": {"note": 1}}).options.extra) == {}


def test_unknown_extra_keys_may_hold_anything(filled: jobstore.JobStore) -> None:
    deep: list[Any] = []
    for _ in range(5000):
        deep = [deep]
    everything = filled.get_jobs()
    assert filled.get_jobs([], {"extra": {"other": deep, "raw_result": True}}) == everything
    assert jobstore.filter_list(everything, [], {"extra": {"other": deep}}) == everything


class Text(str):
    pass


class Equal:
    def __eq__(self, other: object) -> bool:
        return True

    __hash__ = object.__hash__


@pytest.mark.parametrize(
    ("filters", "options"),
    [
        ([["method", "=", Text("update")]], None),  # a str subclass may behave otherwise
        ([["method", "=", Equal()]], None),
        ([["result", "=", {1: "a"}]], None),  # a non-string key
        ([], {"extra": {"raw_result": Text("x")}}),
        (
            [
                [
                    "result",
                    "=",
                    [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]],
                ]
            ],
            None,
        ),
        ([["id", "in", list(range(plainkey.MAX_LEAVES + 1))]], None),
    ],
)
def test_inputs_that_are_not_plain_data_are_never_remembered(filters: Any, options: Any) -> None:
    assert prepared.fingerprint(filters, options) is None


@pytest.mark.parametrize(
    "filters",
    [
        [["method", "=", "x" * (plainkey.MAX_STRING + 1)]],
        [["result." + "k" * plainkey.MAX_STRING, "=", 1]],
        [["id", "=", plainkey.MAX_INT]],
        [["id", "=", -plainkey.MAX_INT]],
        [["result.k", "in", ["x" * (plainkey.MAX_STRING + 1)]]],
        [["result.k", "in", list(range(plainkey.MAX_LEAVES))]],
    ],
)
def test_large_inputs_are_answered_but_never_kept(
    filled: jobstore.JobStore, filters: list[Any]
) -> None:
    """The memos keep their keys: large values would let a client fill memory with them."""
    everything = filled.get_jobs()
    prepared.clear()
    assert prepared.flat_key(filters, None) is None
    assert prepared.fingerprint(filters, None) is None
    for _ in range(3):
        assert filled.get_jobs(filters) == jobstore.filter_list(everything, filters)
    assert not (prepared._memo or prepared._seen or prepared._shapes or prepared._shapes_seen)


def test_many_entries_are_not_flat(filled: jobstore.JobStore) -> None:
    filters = [["id", ">", n] for n in range(prepared.MAX_FLAT_ENTRIES + 1)]
    everything = filled.get_jobs()
    prepared.clear()
    assert prepared.flat_key(filters, None) is None
    for _ in range(3):
        assert filled.get_jobs(filters) == jobstore.filter_list(everything, filters)
    assert not prepared._shapes


def test_a_repeated_query_is_served_from_the_memo(filled: jobstore.JobStore) -> None:
    query = ([["method", "in", ["update"]]], {"get": True})  # a list value: not flat
    first = prepared.prepare(*query)
    assert not prepared._memo  # seen once: not remembered yet
    second = prepared.prepare(*query)
    third = prepared.prepare(*query)
    other = prepared.prepare([["method", "in", ["pool.scrub"]]], {"get": True})
    assert third is second and second is not first and other is not second
    assert list(prepared._memo.values()) == [second]
    answer = filled.get_jobs(*query)
    assert filled.get_jobs(*query) == answer
    assert answer["state"] == "RUNNING"


def test_a_flat_query_is_remembered_by_its_shape(filled: jobstore.JobStore) -> None:
    """Same paths, operators and value types: one shape; its SQL takes the new values."""
    for method in ("update", "pool.scrub"):
        assert isinstance(
            prepared.prepare([["method", "=", method]], {"get": True}), prepared.Prepared
        )
    assert len(prepared._shapes) == 1 and not prepared._memo
    shape = next(iter(prepared._shapes.values()))
    answers = {}
    for method in ("update", "update.check", "pool.scrub"):
        flat = prepared.prepare([["method", "=", method]], {"get": True})
        assert isinstance(flat, prepared.FlatQuery) and flat.shape is shape
        answers[method] = filled.get_jobs([["method", "=", method]], {"get": True})["state"]
    assert answers == {"update": "RUNNING", "update.check": "WAITING", "pool.scrub": "SUCCESS"}
    # values asked again (a poll) come back with their compiled SQL from the second time on
    polls = [prepared.prepare([["method", "=", "update"]], {"get": True}) for _ in range(3)]
    assert polls[2] is polls[1] and polls[1].compiled(INTERNAL) is polls[2].compiled(INTERNAL)
    assert prepared.prepare([["method", "=", "pool.scrub"]], {"get": True}) is not polls[1]
    for n in range(prepared.RECENT_PER_SHAPE * 3):  # and what is kept stays bounded
        prepared.prepare([["method", "=", f"m{n}"]], {"get": True})
    assert len(shape._recent) <= prepared.RECENT_PER_SHAPE
    # another value type, operator, path or option is another shape
    prepared.prepare([["method", "=", None]], {"get": True})
    prepared.prepare([["method", "!=", "x"]], {"get": True})
    prepared.prepare([["state", "=", "x"]], {"get": True})
    prepared.prepare([["method", "=", "x"]], {"get": False})
    none_key = prepared.flat_key([["method", "=", None]], {"get": True})
    assert none_key is not None and none_key[0] in prepared._shapes_seen
    assert len(prepared._shapes) == 1


@pytest.mark.parametrize(
    ("entry", "then"),
    [
        (["method", "^", "pool"], ["method", "^", ""]),  # an empty prefix: other SQL
        (["id", "=", 3], ["id", "=", 2**70]),  # beyond 64 bits: Python decides
        (["result.n", "<", 2], ["result.n", "<", -(2**64)]),
        (["time_started.$date", "<", "2030-01-01"], ["time_started.$date", "<", "9999-12-31"]),
    ],
)
def test_values_that_need_other_sql_get_it(
    filled: jobstore.JobStore, entry: list[Any], then: list[Any]
) -> None:
    everything = filled.get_jobs()
    for filters in ([entry], [entry], [then], [then], [entry]):
        assert filled.get_jobs(filters) == jobstore.filter_list(everything, filters)
        assert prepared.prepare(filters, None).compiled(INTERNAL) == compile_query(
            parse_query(filters)
        )


def test_a_bad_value_in_a_remembered_shape_is_refused_as_a_fresh_parse_refuses_it(
    filled: jobstore.JobStore,
) -> None:
    for good, bad in (
        (["time_finished.$date", ">", "2026-01-01"], ["time_finished.$date", ">", "soon"]),
        (["method", "~", "^pool"], ["method", "~", "(unclosed"]),
    ):
        for _ in range(3):
            filled.get_jobs([["id", ">", 0], good])
        with pytest.raises(jobstore.QueryError) as fresh:
            parse_query([["id", ">", 0], bad])
        with pytest.raises(jobstore.QueryError) as remembered:
            filled.get_jobs([["id", ">", 0], bad])
        assert str(remembered.value) == str(fresh.value)
        assert "filters[1]" in str(remembered.value)


VIEWS = [
    INTERNAL,
    View(restricted=True, owner="alice", methods=("pool.scrub",)),
    View(redacted=frozenset({"result", "arguments"})),
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(entries=st.lists(comparisons(), max_size=3), opts=options(), data=st.data())
def test_a_remembered_shape_with_new_values_compiles_as_a_fresh_parse_does(
    entries: list[list[Any]], opts: dict[str, Any], data: st.DataObject
) -> None:
    """The same entries with new values of the same types: the query, its SQL and its
    parameters (or the error) are exactly those of parsing and compiling them afresh."""
    assume(prepared.flat_key(entries, opts) is not None)
    try:
        parse_query(entries, opts)
    except jobstore.QueryError:
        assume(False)
    prepared.clear()
    for view in VIEWS:  # remember the shape, and its SQL for each view from these values
        for _ in range(2):
            prepared.prepare(entries, opts).compiled(view)
    renewed = [[path, op, data.draw(same_type_values(value))] for path, op, value in entries]
    try:
        expected = parse_query(renewed, opts)
    except jobstore.QueryError as exc:
        with pytest.raises(jobstore.QueryError) as refused:
            prepared.prepare(renewed, opts)
        assert str(refused.value) == str(exc)
        return
    flat = prepared.prepare(renewed, opts)
    assert isinstance(flat, prepared.FlatQuery)
    for view in VIEWS:
        assert flat.compiled(view) == compile_query(expected, view)
    assert flat.query == expected


def test_types_decide_the_answer_on_a_repeat_too(filled: jobstore.JobStore) -> None:
    """1, 1.0, True and "1" are asked in turn, twice: each answer is filter_list's for it."""
    everything = filled.get_jobs()
    for _ in range(2):
        for value in (1, 1.0, True, "1", 0.0, -0.0):
            filters = [["result.n", "=", value]]
            assert filled.get_jobs(filters) == jobstore.filter_list(everything, filters)
    assert [job["state"] for job in filled.get_jobs([["result.n", "=", "1"]])] == ["WAITING"]


def test_a_malformed_query_is_refused_every_time(filled: jobstore.JobStore) -> None:
    for _ in range(3):
        with pytest.raises(jobstore.QueryError, match="get"):
            filled.get_jobs([], {"get": 1})
    # and an earlier valid {"get": True} does not make {"get": 1} valid
    filled.get_jobs([["method", "=", "update"]], {"get": True})
    with pytest.raises(jobstore.QueryError):
        filled.get_jobs([["method", "=", "update"]], {"get": 1})


def test_what_a_caller_later_writes_into_its_lists_never_reaches_another_caller(
    filled: jobstore.JobStore,
) -> None:
    """The remembered query holds copies: a caller reusing its filter list changes nothing."""
    mine = [["result.n", "=", [1]]]  # list equality: checked in Python
    for _ in range(2):  # the second time, the query is remembered
        with pytest.raises(jobstore.QueryError) as first:
            filled.get_jobs(mine, {"force_sql_filters": True}, {"username": "a", "roles": []})
    assert prepared._memo
    mine[0][2][0] = "secret of caller one"
    with pytest.raises(jobstore.QueryError) as second:
        filled.get_jobs(
            [["result.n", "=", [1]]],
            {"force_sql_filters": True},
            {"username": "b", "roles": ["READONLY_ADMIN"]},
        )
    assert "secret" not in str(second.value)
    assert "[1]" in str(first.value) and "[1]" in str(second.value)
    assert filled.explain(mine)["residual"] == [["result.n", "=", ["secret of caller one"]]]


def test_the_memos_stay_bounded(filled: jobstore.JobStore) -> None:
    last = prepared.MEMO_SIZE * 2 + 4
    for n in range(last + 1):
        for _ in range(2):
            with pytest.raises(jobstore.MatchNotFound):
                filled.get_jobs([["id", "in", [10**6 + n]]], {"get": True})
            assert filled.get_jobs([[f"result.k{n}", "=", 1]]) == []
    assert len(prepared._memo) == len(prepared._seen) == prepared.MEMO_SIZE
    assert len(prepared._shapes) == len(prepared._shapes_seen) == prepared.SHAPES_SIZE
    # the newest are kept, the oldest evicted
    assert prepared.fingerprint([["id", "in", [10**6 + last]]], {"get": True}) in prepared._memo
    last_key = prepared.flat_key([[f"result.k{last}", "=", 1]], None)
    assert last_key is not None and last_key[0] in prepared._shapes


@settings(max_examples=200, deadline=None)
@given(
    value=st.one_of(
        st.integers(-3, 3),
        st.floats(-3, 3),
        st.booleans(),
        st.none(),
        st.sampled_from(["1", "update", ""]),
        st.lists(st.integers(0, 2), max_size=2),
    ),
    op=st.sampled_from(["=", "!=", "<", ">=", "in", "nin"]),
)
def test_a_remembered_query_answers_as_a_fresh_parse_does(value: Any, op: str) -> None:
    """For any value: the memo's answer on a repeat equals filter_list over the same jobs."""
    jobs = [
        {"id": 1, "result": {"n": 1}},
        {"id": 2, "result": {"n": 1.0}},
        {"id": 3, "result": {"n": True}},
        {"id": 4, "result": {"n": [0, 1]}},
        {"id": 5, "result": {"n": None}},
        {"id": 6, "result": {}},
    ]
    filters = [["result.n", op, value]]
    try:
        expected: Any = jobstore.filter_list(jobs, filters, {"select": ["id"]})
    except jobstore.QueryError:
        expected = jobstore.QueryError
    with jobstore.JobStore(":memory:") as store:
        store.insert_many([{"method": "m", **job} for job in jobs])
        for _ in range(2):
            try:
                got: Any = store.get_jobs(filters, {"select": ["id"]})
            except jobstore.QueryError:
                got = jobstore.QueryError
            assert got == expected


def test_callers_never_share_an_entry(filled: jobstore.JobStore) -> None:
    """A memo hit is faster: were entries shared, timing would tell B what A polls."""
    query = ([["method", "=", "update"]], {"get": True})
    alice = {"username": "alice", "roles": ["FULL_ADMIN"]}
    bob = {"username": "bob", "roles": ["FULL_ADMIN"]}
    for _ in range(2):
        filled.get_jobs(*query, alice)
    assert len(prepared._shapes) == 1
    assert not isinstance(prepared.prepare(*query, bob), prepared.FlatQuery)  # bob: unseen
    assert not isinstance(prepared.prepare(*query, None), prepared.FlatQuery)
    assert isinstance(prepared.prepare(*query, alice), prepared.FlatQuery)
    assert prepared.flat_key(*query, alice) != prepared.flat_key(*query, bob)
    assert prepared.flat_key(*query, object()) is None
    query = ([["method", "in", ["update"]]], {"get": True})
    for _ in range(2):
        filled.get_jobs(*query, alice)
    assert len(prepared._memo) == 1
    assert prepared.prepare(*query, bob) is not prepared.prepare(*query, alice)
    assert prepared.fingerprint(*query, alice) != prepared.fingerprint(*query, bob)
    assert prepared.fingerprint(*query, None) != prepared.fingerprint(*query, alice)
    caller = Caller.parse(alice)
    assert prepared.fingerprint(*query, caller) == prepared.fingerprint(*query, Caller.parse(alice))
    assert prepared.fingerprint(*query, caller) != prepared.fingerprint(*query, Caller.parse(bob))
    assert prepared.fingerprint(*query, object()) is None  # not plain: never remembered
