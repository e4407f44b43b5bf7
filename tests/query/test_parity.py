"""The SQL path equals the Python evaluator: random jobs, random queries, one answer."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import jobstore

from .strategies import (
    comparisons,
    filters,
    jobs,
    options,
    order_keys,
    rich_jobs,
    same_type_values,
)

PARITY = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _outcome(call: Any) -> tuple[str, Any]:
    try:
        return ("ok", call())
    except (jobstore.QueryError, jobstore.MatchNotFound) as exc:
        return (type(exc).__name__, None)


@pytest.fixture(scope="module")
def store() -> Any:
    with jobstore.JobStore(":memory:") as store:
        yield store


def _load(store: jobstore.JobStore, job_list: list[dict[str, Any]]) -> list[dict[str, Any]]:
    with store._write() as conn:
        conn.execute("DELETE FROM jobs")
    store.insert_many(job_list)
    return store.get_jobs()


@pytest.fixture(scope="module")
def rich_store() -> Any:
    with jobstore.JobStore(":memory:") as store:
        store.insert_many(rich_jobs())
        yield store


@settings(PARITY, max_examples=600)
@given(comparison=comparisons())
def test_one_comparison_matches_python(rich_store: jobstore.JobStore,
                                       comparison: list[Any]) -> None:
    """One comparison over a job set holding every kind of value at every path."""
    stored = rich_store.get_jobs()
    expected = _outcome(lambda: jobstore.filter_list(stored, [comparison], {"select": ["id"]}))
    actual = _outcome(lambda: rich_store.get_jobs([comparison], {"select": ["id"]}))
    assert actual == expected, rich_store.explain([comparison])


@settings(PARITY, max_examples=300)
@given(query_filters=filters, query_options=options())
def test_query_over_rich_jobs_matches_python(rich_store: jobstore.JobStore,
                                             query_filters: list[Any],
                                             query_options: dict[str, Any]) -> None:
    stored = rich_store.get_jobs()
    expected = _outcome(lambda: jobstore.filter_list(stored, query_filters, query_options))
    actual = _outcome(lambda: rich_store.get_jobs(query_filters, query_options))
    assert actual == expected, rich_store.explain(query_filters, query_options)
    # Asked again, the query is served from the memo (query.prepared): same answer.
    again = _outcome(lambda: rich_store.get_jobs(query_filters, query_options))
    assert again == expected, rich_store.explain(query_filters, query_options)


@settings(PARITY, max_examples=300)
@given(entries=st.lists(comparisons(), min_size=1, max_size=3), query_options=options(),
       data=st.data())
def test_a_remembered_shape_answers_new_values_as_python_does(
    rich_store: jobstore.JobStore, entries: list[list[Any]], query_options: dict[str, Any],
    data: st.DataObject,
) -> None:
    """A flat query asked often enough is remembered by its shape (query.prepared): the same
    entries with new values then run its SQL with new parameters, and a repeat is polled."""
    stored = rich_store.get_jobs()
    for _ in range(3):
        _outcome(lambda: rich_store.get_jobs(entries, query_options))
    renewed = [[path, op, data.draw(same_type_values(value))] for path, op, value in entries]
    for query in (renewed, renewed, renewed, entries):
        expected = _outcome(lambda q=query: jobstore.filter_list(stored, q, query_options))
        actual = _outcome(lambda q=query: rich_store.get_jobs(q, query_options))
        assert actual == expected, rich_store.explain(query, query_options)


@settings(PARITY, max_examples=300)
@given(key=order_keys(), second=order_keys())
def test_order_over_rich_jobs_matches_python(rich_store: jobstore.JobStore, key: str,
                                             second: str) -> None:
    stored = rich_store.get_jobs()
    query_options = {"order_by": [key, second], "select": ["id"]}
    expected = jobstore.filter_list(stored, [], query_options)
    assert rich_store.get_jobs([], query_options) == expected, rich_store.explain([], query_options)


@PARITY
@given(job_list=st.lists(jobs(), min_size=1, max_size=8), key=order_keys(),
       second=order_keys())
def test_order_by_matches_python(store: jobstore.JobStore, job_list: list[dict[str, Any]],
                                 key: str, second: str) -> None:
    stored = _load(store, job_list)
    query_options = {"order_by": [key, second], "select": ["id"]}
    expected = jobstore.filter_list(stored, [], query_options)
    assert store.get_jobs([], query_options) == expected, store.explain([], query_options)


@PARITY
@given(job_list=st.lists(jobs(), max_size=8), query_filters=filters, query_options=options())
def test_sql_matches_python(store: jobstore.JobStore, job_list: list[dict[str, Any]],
                            query_filters: list[Any], query_options: dict[str, Any]) -> None:
    stored = _load(store, job_list)
    expected = _outcome(lambda: jobstore.filter_list(stored, query_filters, query_options))
    actual = _outcome(lambda: store.get_jobs(query_filters, query_options))
    assert actual == expected, store.explain(query_filters, query_options)


@PARITY
@given(job_list=st.lists(jobs(), max_size=6), query_filters=filters, query_options=options())
def test_force_sql_filters_agrees_or_refuses(
    store: jobstore.JobStore, job_list: list[dict[str, Any]], query_filters: list[Any],
    query_options: dict[str, Any],
) -> None:
    stored = _load(store, job_list)
    expected = _outcome(lambda: jobstore.filter_list(stored, query_filters, query_options))
    forced = {**query_options, "force_sql_filters": True}
    actual = _outcome(lambda: store.get_jobs(query_filters, forced))
    if actual[0] == "QueryError" and expected[0] != "QueryError":
        assert store.explain(query_filters, query_options)["residual"], (
            "force_sql_filters refused a query that needs no Python"
        )
        return
    assert actual == expected
