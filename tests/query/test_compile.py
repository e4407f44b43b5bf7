"""The SQL compiler seen through ``store.explain``: what SQL it emits, with which parameters.

Tables of (filters, options) -> SQL fragments, parameters and residual, and
for every case the answer itself compared with ``filter_list`` over the same
jobs, so that a test of the SQL's form is also a test of its meaning.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import jobstore
from jobstore.query import compile as compile_module
from jobstore.query import functions
from jobstore.query.compile import cache_info
from tools.generate_history import generate

from .strategies import rich_jobs


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[jobstore.JobStore]:
    """A file store holding a realistic history plus jobs with every kind of JSON value."""
    path: Path = tmp_path_factory.mktemp("compile") / "jobs.db"
    with jobstore.JobStore(path, max_finished=10**6) as opened:
        opened.insert_many(generate(400, seed=3))
        opened.insert_many(rich_jobs())
        opened.insert_many([
            {"method": "x'); DROP TABLE jobs;--", "result": {"it's": 1, "a b": {"c": 2},
                                                              'q"k': 3, "b\\s": 4, "$x[0]": 5}},
            {"method": "100%", "description": "?", "result": {"it's": 2, "a b": {"c": 1}}},
        ])
        yield opened


@pytest.fixture(scope="module")
def everything(store: jobstore.JobStore) -> list[dict[str, Any]]:
    return store.get_jobs()  # type: ignore[return-value]


def _same_answer(store: jobstore.JobStore, everything: list[dict[str, Any]], filters: Any,
                 options: Any = None) -> Any:
    """The store's answer, asserted equal to the reference evaluator's."""
    answer = store.get_jobs(filters, options)
    assert answer == jobstore.filter_list(everything, filters, options)
    return answer


def _where(sql: str) -> str:
    """The SQL after FROM (the select list is long and says nothing about the query)."""
    return sql[sql.index(" FROM "):]


# --- values are parameters -----------------------------------------------------------------

NASTY = ["x'); DROP TABLE jobs;--", "' OR 1=1 --", "100%", "?", ":p0", "$1", '"', "a\\", "_",
         "\x00", "ß"]


@pytest.mark.parametrize("value", NASTY)
@pytest.mark.parametrize("op", ["=", "!=", "<", ">=", "^", "!^", "$", "!$", "in", "nin", "rin",
                                "C=", "C^", "C$", "Cin"])
def test_values_are_parameters_never_sql_text(store: jobstore.JobStore,
                                              everything: list[dict[str, Any]], op: str,
                                              value: str) -> None:
    for path in ("method", "description", "result.it's"):
        filters = [[path, op, value]]
        explained = store.explain(filters)
        bound = [p for p in explained["params"] if isinstance(p, str)]
        assert bound, explained  # the value (or its casefold, or prefix range) is bound
        if len(value) > 1:  # one-character values occur in the fixed SQL text itself
            assert value not in explained["sql"]
            assert value.casefold() not in explained["sql"]
        assert explained["residual"] == []
        _same_answer(store, everything, filters)


def test_injection_value_is_found_not_executed(store: jobstore.JobStore,
                                               everything: list[dict[str, Any]]) -> None:
    value = "x'); DROP TABLE jobs;--"
    explained = store.explain([["method", "=", value]])
    assert explained["params"] == [value]
    assert "DROP" not in explained["sql"]
    found = _same_answer(store, everything, [["method", "=", value]])
    assert [job["method"] for job in found] == [value]
    assert store.get_jobs([], {"count": True}) == len(everything)


def test_regex_pattern_is_a_parameter(store: jobstore.JobStore,
                                      everything: list[dict[str, Any]]) -> None:
    pattern = "x'\\); DROP"
    explained = store.explain([["method", "~", pattern]])
    assert explained["params"] == [pattern]
    assert "DROP" not in explained["sql"]
    assert len(_same_answer(store, everything, [["method", "~", pattern]])) == 1


# --- JSON paths are quoted literals ------------------------------------------------------

@pytest.mark.parametrize(("path", "literal", "value"), [
    ("result.a b.c", "'$.\"a b\".c'", 2),
    ("result.it's", "'$.\"it''s\"'", 1),
    ("result.$x[0]", "'$.\"$x[0]\"'", 5),
    ("credentials.data.username", "'$.data.username'", "alice"),
])
def test_json_paths_are_quoted_literals(store: jobstore.JobStore,
                                        everything: list[dict[str, Any]], path: str,
                                        literal: str, value: Any) -> None:
    explained = store.explain([[path, "=", value]])
    assert literal in explained["sql"]
    assert explained["params"] == [value]
    assert explained["residual"] == []
    assert _same_answer(store, everything, [[path, "=", value]])


@pytest.mark.parametrize("path", ['result.q"k', "result.b\\s", "result.a\x01"])
def test_keys_sqlite_cannot_address_are_residual(store: jobstore.JobStore,
                                                 everything: list[dict[str, Any]],
                                                 path: str) -> None:
    filters = [["id", ">", 0], [path, "!=", None]]
    explained = store.explain(filters)
    assert explained["residual"] == [[path, "!=", None]]
    assert explained["residual_reasons"][0].startswith("filters[1]")
    assert "checked in Python" in explained["residual_reasons"][0]
    key = path.split(".", 1)[1]
    assert key not in explained["sql"]
    _same_answer(store, everything, filters)


# --- the shape-keyed cache ---------------------------------------------------------------

@pytest.mark.parametrize(("first", "second"), [
    ([["state", "=", "FAILED"], ["method", "=", "replication.run"]],
     [["state", "=", "SUCCESS"], ["method", "=", "pool.scrub.scrub"]]),
    ([["method", "^", "pool."]], [["method", "^", "cloudsync."]]),
    ([["time_finished.$date", ">=", "2026-11-01"]],
     [["time_finished.$date", ">=", "2027-01-01T00:00:00Z"]]),
    ([["method", "in", ["a", "b"]]], [["method", "in", ["c", "d"]]]),
    ([["result.it's", "=", 1]], [["result.it's", "=", 2.5]]),
    ([["OR", [["id", "<", 5], ["progress.percent", ">", 50]]]],
     [["OR", [["id", "<", 7], ["progress.percent", ">", 10]]]]),
])
def test_same_shape_same_sql_other_params_and_a_cache_hit(store: jobstore.JobStore,
                                                          first: Any, second: Any) -> None:
    one = store.explain(first)
    before = cache_info()
    two = store.explain(second)
    after = cache_info()
    assert two["sql"] == one["sql"]
    assert two["params"] != one["params"]
    assert after["hits"] == before["hits"] + 1
    assert after["misses"] == before["misses"]


@pytest.mark.parametrize(("first", "second"), [
    ([["method", "in", ["a", "b"]]], [["method", "in", ["a", "b", "c"]]]),  # list length
    ([["result.it's", "=", 1]], [["result.it's", "=", "1"]]),  # number vs text
    ([["method", "=", "a"]], [["method", "!=", "a"]]),
    ([["method", "=", "a"]], [["method", "C=", "a"]]),
    ([["result.a", "=", 1]], [["result.b", "=", 1]]),
])
def test_other_shape_other_sql(store: jobstore.JobStore, first: Any, second: Any) -> None:
    assert store.explain(first)["sql"] != store.explain(second)["sql"]


def test_huge_sql_is_answered_but_never_cached(store: jobstore.JobStore) -> None:
    """The cache keeps SQL text, and JSON paths are in it: a client sending huge paths
    must not fill it."""
    everything = store.get_jobs()
    filters = [["result." + "k" * 20_000, "=", 1]]
    compile_module._CACHE.clear()
    for _ in range(3):
        assert len(store.explain(filters)["sql"]) > 20_000
        assert store.get_jobs(filters) == jobstore.filter_list(everything, filters)
    assert cache_info()["size"] == 0


# --- what runs in SQL, and what is left to Python ------------------------------------------

@pytest.mark.parametrize(("filters", "function"), [
    ([["method", "~", "^pool\\.(scrub|create)"]], functions.REGEXP_MATCH),
    ([["description", "~", "(?i)task"]], functions.REGEXP_MATCH),
    ([["method", "C=", "REPLICATION.RUN"]], functions.CASEFOLD),
    ([["method", "C!=", "REPLICATION.RUN"]], functions.CASEFOLD),
    ([["method", "C^", "POOL."]], functions.CASEFOLD),
    ([["method", "C!$", ".RUN"]], functions.CASEFOLD),
    ([["method", "Cin", ["POOL.CREATE", "Config.Save"]]], functions.CASEFOLD),
    ([["method", "Cnin", "POOL.CREATE"]], functions.CASEFOLD),
    ([["arguments", "Crin", "TANK"]], functions.CASEFOLD),
    ([["description", "C>", "m"]], functions.CASEFOLD),
    ([["exc_info.type", "C=", "oserror"]], functions.CASEFOLD),
])
def test_regex_and_casefold_forms_run_in_sql(store: jobstore.JobStore,
                                             everything: list[dict[str, Any]], filters: Any,
                                             function: str) -> None:
    explained = store.explain(filters, {"force_sql_filters": True})
    assert function.lower() in explained["sql"].lower()
    assert explained["residual"] == []
    _same_answer(store, everything, filters, {"force_sql_filters": True})


@pytest.mark.parametrize(("entry", "sql_narrowing"), [
    (["result", "=", [1, 2]], "JSON_TYPE(jobs.result, '$') = 'array'"),
    (["result", "=", {"a": 1}], "JSON_TYPE(jobs.result, '$') = 'object'"),
    (["result.a", "!=", [1, "a"]], None),
    (["arguments", "rin", [1, 2]], None),
    (["result", "in", [[1, 2], 5]], None),
    (["result", "=", []], None),
])
def test_list_and_object_equality_is_residual(store: jobstore.JobStore,
                                              everything: list[dict[str, Any]], entry: Any,
                                              sql_narrowing: str | None) -> None:
    explained = store.explain([entry])
    assert explained["residual"] == [entry]
    assert explained["residual_reasons"] == [
        f"filters[0] {entry!r}: SQL narrows it, Python decides"]
    if sql_narrowing is not None:  # SQL still only reads rows that can match
        assert sql_narrowing in explained["sql"]
    _same_answer(store, everything, [entry])


@pytest.mark.parametrize(("filters", "position"), [
    ([["result", "=", [1]]], "filters[0]"),
    ([["id", ">", 0], ["result.q\"k", "=", 3]], "filters[1]"),
    ([["id", ">", 0], ["OR", [["id", "=", 1], ["result", "=", {"a": 1}]]]], "filters[1][1][1]"),
    ([["OR", [[["state", "=", "FAILED"], ["result", "!=", []]]]]], "filters[0][1][0][1]"),
])
def test_force_sql_filters_names_the_residual_entry(store: jobstore.JobStore, filters: Any,
                                                    position: str) -> None:
    with pytest.raises(jobstore.QueryError, match=re.escape(position)):
        store.get_jobs(filters, {"force_sql_filters": True})
    # Without the option the same query is answered, in part by Python.
    assert store.explain(filters)["residual"]
    store.get_jobs(filters)


# --- count, get, limit, offset: in SQL only when nothing is left to Python --------------------

EXACT = [["state", "=", "SUCCESS"]]
RESIDUAL = [["state", "=", "SUCCESS"], ["result", "!=", {"never": True}]]


@pytest.mark.parametrize(("options", "count", "paging", "in_sql"), [
    ({"count": True}, "sql", "python", "COUNT(*)"),
    ({"count": True, "limit": 2, "offset": 1, "order_by": ["-id"]}, "sql", "python", "COUNT(*)"),
    ({"get": True}, None, "sql", "LIMIT 1"),
    ({"get": True, "order_by": ["-time_finished"]}, None, "sql", "LIMIT 1"),
    ({"limit": 5}, None, "sql", "LIMIT ?"),
    ({"offset": 3}, None, "sql", "LIMIT ? OFFSET ?"),
    ({"limit": 5, "offset": 3, "order_by": ["nulls_last:-progress.percent"]}, None, "sql",
     "LIMIT ? OFFSET ?"),
    ({}, None, "python", None),
])
def test_count_get_and_paging_pushed_into_sql_without_residual(
    store: jobstore.JobStore, everything: list[dict[str, Any]], options: dict[str, Any],
    count: str | None, paging: str, in_sql: str | None,
) -> None:
    exact = store.explain(EXACT, options)
    assert (exact["count"], exact["paging"], exact["residual"]) == (count, paging, [])
    if in_sql is not None:
        assert in_sql in exact["sql"]
        if in_sql.startswith("LIMIT"):  # and nothing after it: no OFFSET 0
            assert exact["sql"].endswith(in_sql)
    if paging == "sql" and not options.get("get"):
        # LIMIT -1 is SQLite's "no limit"; an OFFSET only when there is one.
        paging_params = [options.get("limit") or -1]
        if options.get("offset"):
            paging_params.append(options["offset"])
        assert exact["params"][-len(paging_params):] == paging_params
    _same_answer(store, everything, EXACT, options)

    # A residual entry moves counting and paging to Python, after it: same answers.
    residual = store.explain(RESIDUAL, options)
    assert residual["paging"] == "python"
    assert residual["count"] == ("python" if options.get("count") else None)
    assert "COUNT(" not in residual["sql"] and "LIMIT" not in residual["sql"]
    assert store.get_jobs(RESIDUAL, options) == store.get_jobs(EXACT, options)
    _same_answer(store, everything, RESIDUAL, options)


def test_get_without_match_raises_either_way(store: jobstore.JobStore) -> None:
    for filters in ([["id", "<", 0]], [["id", "<", 0], ["result", "=", [None]]]):
        with pytest.raises(jobstore.MatchNotFound):
            store.get_jobs(filters, {"get": True})


# --- ordering ------------------------------------------------------------------------------

@pytest.mark.parametrize("key", ["result.a", "-result", "nulls_last:progress.extra",
                                 "nulls_first:-result.items", "arguments.0", "result.it's"])
def test_order_by_json_path_uses_canonical_json(store: jobstore.JobStore,
                                                everything: list[dict[str, Any]],
                                                key: str) -> None:
    explained = store.explain([], {"order_by": [key]})
    assert explained["order"] == "sql"
    order_by = explained["sql"][explained["sql"].index("ORDER BY"):]
    assert functions.CANONICAL_JSON.lower() in order_by.lower()
    assert order_by.endswith("jobs.id ASC")  # ties by id
    _same_answer(store, everything, [], {"order_by": [key], "select": ["id"]})


def test_order_by_unaddressable_key_sorts_in_python(store: jobstore.JobStore,
                                                    everything: list[dict[str, Any]]) -> None:
    options = {"order_by": ['result.q"k'], "select": ["id"]}
    assert store.explain([], options)["order"] == "python"
    _same_answer(store, everything, [], options)


# --- indexes -------------------------------------------------------------------------------

def _plan(store: jobstore.JobStore, filters: Any, options: Any = None) -> str:
    explained = store.explain(filters, options)
    rows = store._connection().execute(f"EXPLAIN QUERY PLAN {explained['sql']}",
                                       explained["params"]).fetchall()
    return " | ".join(row[-1] for row in rows)


@pytest.mark.parametrize(("filters", "options", "index"), [
    ([["state", "=", "FAILED"], ["method", "=", "replication.run"]], None, "jobs_state_method"),
    ([["state", "=", "RUNNING"]], {"count": True}, "jobs_state_method"),
    ([["method", "=", "replication.run"]], None, "jobs_method"),
    ([["method", "^", "replication."]], None, "jobs_method"),
    ([["OR", [["method", "^", "pool."], ["method", "^", "cloudsync."]]]], None, "jobs_method"),
    # Ranges are bounded on both sides: without ANALYZE statistics SQLite scans for a
    # one-sided range (the hand-written SQL too), as it cannot tell that it is selective.
    ([["time_finished.$date", ">=", "2026-11-02"], ["time_finished.$date", "<", "2026-11-09"]],
     None, "jobs_time_finished"),
    ([["progress.percent", ">", 10], ["progress.percent", "<", 50]], None,
     "jobs_progress_percent"),
])
def test_selective_queries_use_an_index(store: jobstore.JobStore, filters: Any, options: Any,
                                        index: str) -> None:
    plan = _plan(store, filters, options)
    assert "USING" in plan and index in plan, plan
    assert "SCAN jobs" not in plan.replace(f"SCAN jobs USING INDEX {index}", ""), plan


def test_get_by_id_uses_the_primary_key(store: jobstore.JobStore) -> None:
    assert "INTEGER PRIMARY KEY" in _plan(store, [["id", "=", 5]], {"get": True})


@pytest.mark.parametrize("options", [
    {"order_by": ["-time_finished"], "limit": 50},
    {"order_by": ["-time_finished"], "limit": 50, "offset": 10},
    {"order_by": ["-time_finished"], "get": True},
])
def test_time_finished_order_walks_the_index_without_a_sort(store: jobstore.JobStore,
                                                             options: Any) -> None:
    plan = _plan(store, [], options)
    assert "USING INDEX jobs_time_finished" in plan, plan
    assert "TEMP B-TREE" not in plan, plan
