"""Remembered queries (``jobstore.query.prepared``): a repeat is served from the memo, and
only ever when re-parsing would give the very same query."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jobstore
from jobstore.access import Caller
from jobstore.query import plainkey, prepared
from jobstore.query.parse import parse_query


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


def test_remembered_options_keep_their_own_copy_of_extra() -> None:
    extra = {"raw_result": True, "note": ["mine"]}
    for _ in range(2):
        query = parse_query([], {"extra": extra})
    extra["note"].append("written later")
    assert parse_query([], {"extra": {"raw_result": True, "note": ["mine"]}}).extra["note"] == [
        "mine"
    ]
    assert query.extra["note"] == ["mine"]


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


def test_a_repeated_query_is_served_from_the_memo(filled: jobstore.JobStore) -> None:
    first = prepared.prepare([["method", "=", "update"]], {"get": True})
    assert not prepared._memo  # seen once: not remembered yet
    second = prepared.prepare([["method", "=", "update"]], {"get": True})
    third = prepared.prepare([["method", "=", "update"]], {"get": True})
    other = prepared.prepare([["method", "=", "pool.scrub"]], {"get": True})
    assert third is second and second is not first and other is not second
    assert list(prepared._memo.values()) == [second]
    answer = filled.get_jobs([["method", "=", "update"]], {"get": True})
    assert filled.get_jobs([["method", "=", "update"]], {"get": True}) == answer
    assert answer["state"] == "RUNNING"


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


def test_the_memo_stays_bounded(filled: jobstore.JobStore) -> None:
    for job_id in range(prepared.MEMO_SIZE * 2 + 5):
        for _ in range(2):
            with pytest.raises(jobstore.MatchNotFound):
                filled.get_jobs([["id", "=", 10**6 + job_id]], {"get": True})
    assert len(prepared._memo) == len(prepared._seen) == prepared.MEMO_SIZE
    assert prepared.fingerprint(
        [["id", "=", 10**6 + prepared.MEMO_SIZE * 2 + 4]], {"get": True}
    ) in (prepared._memo)  # the newest are kept, the oldest evicted


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
    assert len(prepared._memo) == 1
    assert prepared.prepare(*query, bob) is not prepared.prepare(*query, alice)
    assert prepared.fingerprint(*query, alice) != prepared.fingerprint(*query, bob)
    assert prepared.fingerprint(*query, None) != prepared.fingerprint(*query, alice)
    caller = Caller.parse(alice)
    assert prepared.fingerprint(*query, caller) == prepared.fingerprint(*query, Caller.parse(alice))
    assert prepared.fingerprint(*query, caller) != prepared.fingerprint(*query, Caller.parse(bob))
    assert prepared.fingerprint(*query, object()) is None  # not plain: never remembered
