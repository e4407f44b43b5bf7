"""Parity for external callers: get_jobs(credentials) equals filter_list over what they may see.

The reference is built from the rules alone (``AccessPolicy.can_see`` and
``redact_job``, then the Python evaluator); the store applies visibility in
SQL and keeps redacted fields out of it. Any difference is either a wrong
answer or a side channel.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import jobstore
from jobstore.access import Caller, redact_job

from .strategies import SECRET_PATHS, USERS, comparisons, filters, options, order_keys, rich_jobs

CALLERS = [
    {"username": "alice", "roles": []},
    {"username": "bob", "roles": ["SCRUB_READER"]},  # may read every pool.scrub job
    {"username": "Alice", "roles": []},
    {"username": "root", "roles": ["FULL_ADMIN"]},
    None,
]


@pytest.fixture(scope="module")
def store() -> Any:
    with jobstore.JobStore(":memory:") as store:
        store.access.allow_method_readers("pool.scrub", "SCRUB_READER")
        store.insert_many(rich_jobs())
        yield store


def _expected(store: jobstore.JobStore, credentials: Any, raw_result: Any,
              query_filters: Any, query_options: dict[str, Any]) -> tuple[str, Any]:
    caller = Caller.parse(credentials)
    visible = [
        redact_job(job, caller, raw_result, store.secrets)
        for job in store.get_jobs()
        if store.access.can_see(caller, job)
    ]
    try:
        return ("ok", jobstore.filter_list(visible, query_filters, query_options))
    except (jobstore.QueryError, jobstore.MatchNotFound) as exc:
        return (type(exc).__name__, None)


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(credentials=st.sampled_from(CALLERS), raw_result=st.sampled_from([None, True, False]),
       query_filters=filters, query_options=options())
def test_callers_get_exactly_what_the_rules_give_them(
    store: jobstore.JobStore, credentials: Any, raw_result: Any, query_filters: Any,
    query_options: dict[str, Any],
) -> None:
    if raw_result is not None:
        query_options = {**query_options, "extra": {"raw_result": raw_result}}
    expected = _expected(store, credentials, raw_result, query_filters, query_options)
    try:
        actual = ("ok", store.get_jobs(query_filters, query_options, credentials))
    except (jobstore.QueryError, jobstore.MatchNotFound) as exc:
        actual = (type(exc).__name__, None)
    assert actual == expected, store.explain(query_filters, query_options, credentials)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(credentials=st.sampled_from(CALLERS), raw_result=st.sampled_from([None, True, False]),
       comparison=comparisons(SECRET_PATHS),
       key=order_keys([path for path in SECRET_PATHS if "*" not in path]))
def test_filters_and_order_on_secrets_see_only_redacted_values(
    store: jobstore.JobStore, credentials: Any, raw_result: Any, comparison: list[Any],
    key: str,
) -> None:
    query_options: dict[str, Any] = {"select": ["id"], "order_by": [key]}
    if raw_result is not None:
        query_options["extra"] = {"raw_result": raw_result}
    expected = _expected(store, credentials, raw_result, [comparison], query_options)
    actual = ("ok", store.get_jobs([comparison], query_options, credentials))
    assert actual == expected, store.explain([comparison], query_options, credentials)


def test_the_job_set_has_jobs_for_every_kind_of_caller(store: jobstore.JobStore) -> None:
    owners = {(job["credentials"] or {}).get("data", {}).get("username")
              for job in store.get_jobs()}
    assert set(USERS) <= owners and None in owners
