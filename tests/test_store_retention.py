"""Retention: at most max_finished finished jobs, transient jobs removed, ids never reused."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from jobstore.store import JobStore

Make = Callable[..., JobStore]


def _finish(store: JobStore, how: str = "succeed", **kwargs: Any) -> int:
    job_id = store.create("m", **kwargs)
    store.start(job_id)
    if how == "succeed":
        store.succeed(job_id)
    elif how == "fail":
        store.fail(job_id, "x")
    else:
        store.abort(job_id)
    return job_id


def _ids(store: JobStore) -> list[int]:
    return [job["id"] for job in store._select_all()]


def _finished_count(store: JobStore) -> int:
    conn = store._connection()
    (counted,) = conn.execute("SELECT finished FROM job_counts").fetchone()
    (real,) = conn.execute(
        "SELECT count(*) FROM jobs WHERE state IN ('SUCCESS', 'FAILED', 'ABORTED') "
        "AND transient = 0"
    ).fetchone()
    assert counted == real  # the trigger-kept count stays exact
    return int(real)


def test_keeps_the_newest_finished_and_every_unfinished_job(make_store: Make) -> None:
    store = make_store(max_finished=3)
    waiting = store.create("w")
    running = store.create("r")
    store.start(running)
    finished = [_finish(store, how, abortable=True) for how in ["succeed", "fail", "abort"] * 3]
    assert _ids(store) == [waiting, running, *finished[-3:]]
    assert _finished_count(store) == 3
    assert store.get_job(waiting)["state"] == "WAITING"
    assert store.get_job(running)["state"] == "RUNNING"


def test_oldest_is_by_time_finished_then_id(make_store: Make) -> None:
    store = make_store(max_finished=2)
    first, second, third = (store.create("m") for _ in range(3))
    for job_id in (first, second, third):
        store.start(job_id)
    store.succeed(third)  # finished first although its id is highest
    store.succeed(first)
    store.succeed(second)
    assert _ids(store) == [first, second]


def test_imported_history_is_trimmed_on_the_next_finish(make_store: Make) -> None:
    store = make_store(max_finished=5)
    history = [
        {"method": "old", "state": "SUCCESS", "time_finished": f"2026-01-01T00:00:{i:02d}+00:00"}
        for i in range(10)
    ]
    ids = store.insert_many(history)
    assert len(_ids(store)) == 10  # imports are kept as given...
    newest = _finish(store)
    assert _ids(store) == [*ids[-4:], newest]  # ...until a job finishes
    assert _finished_count(store) == 5


def test_prune_can_be_called(make_store: Make) -> None:
    store = make_store(max_finished=1)
    ids = store.insert_many([{"method": "m", "state": "FAILED"} for _ in range(3)])
    assert store.prune() == ids[:2]
    assert _ids(store) == ids[2:]


def test_transient_job_is_deleted_when_it_finishes(make_store: Make) -> None:
    store = make_store()
    kept = _finish(store)
    gone = _finish(store, transient=True)
    failed = _finish(store, "fail", transient=True)
    assert _ids(store) == [kept]
    assert gone != failed
    assert _finished_count(store) == 1


def test_transient_grace_keeps_it_until_a_later_write(make_store: Make) -> None:
    store = make_store(transient_grace=3600)
    job_id = _finish(store, transient=True)
    assert store.get_job(job_id)["state"] == "SUCCESS"
    _finish(store)  # within the grace period: still there
    assert job_id in _ids(store)
    store.transient_grace = 0.001  # rather than waiting an hour
    time.sleep(0.01)
    assert job_id in _ids(store)  # expiry happens on writes only
    other = _finish(store)
    assert job_id not in _ids(store)
    assert other in _ids(store)


@pytest.mark.parametrize("write", ["create", "start", "prune"])
def test_an_expired_transient_job_goes_at_the_next_create_or_start(
    make_store: Make, write: str
) -> None:
    store = make_store(transient_grace=3600)
    waiting = store.create("w")
    expired = _finish(store, transient=True)
    fresh = _finish(store, transient=True)
    store.transient_grace = 0.001
    store._connection().execute(  # `fresh` finished in the future: its grace runs on
        "UPDATE jobs SET time_finished = '9999-01-01T00:00:00.000000+00:00' WHERE id = ?",
        (fresh,),
    )
    time.sleep(0.01)
    store.get_jobs()  # a read deletes nothing
    assert expired in _ids(store)
    if write == "create":
        store.create("m")
    elif write == "start":
        store.start(waiting)
    else:
        assert store.prune() == [expired]
    assert expired not in _ids(store)
    assert fresh in _ids(store)


def test_transient_jobs_do_not_count_against_max_finished(make_store: Make) -> None:
    store = make_store(max_finished=2, transient_grace=60)
    kept = [_finish(store), _finish(store)]
    transient = _finish(store, transient=True)
    assert _ids(store) == [*kept, transient]


def test_ids_are_never_reused_after_pruning_or_reopening(make_store: Make, tmp_path: Path) -> None:
    path = tmp_path / "ids.db"
    store = make_store(path, max_finished=0)
    seen = [_finish(store) for _ in range(3)]
    assert _ids(store) == []  # all pruned, the table is empty
    store.close()
    store = make_store(path, max_finished=0)
    seen.append(store.create("m"))
    imported = store.insert_many([{"method": "m"}])
    seen += imported
    assert seen == sorted(set(seen))
    store.close()
    store = make_store(path)
    assert store.create("m") == seen[-1] + 1


def test_pruning_removes_the_log_file(make_store: Make) -> None:
    store = make_store(max_finished=1)
    first = store.create("m")
    store.start(first)
    store.append_log(first, "first\n")
    store.succeed(first)
    log = Path(store.get_job(first)["logs_path"])
    assert log.exists()
    _finish(store)
    assert not log.exists()
    assert first not in _ids(store)


def test_transient_job_log_is_removed_with_it(make_store: Make) -> None:
    store = make_store()
    job_id = store.create("m", transient=True)
    store.append_log(job_id, "x\n")
    log = store.logs_dir / f"{job_id}.log"
    assert log.exists()
    store.abort(job_id)
    assert not log.exists()


def test_pruning_uses_the_time_finished_index(store: JobStore) -> None:
    conn = store._connection()
    plan = conn.execute(
        "EXPLAIN QUERY PLAN SELECT id FROM jobs INDEXED BY jobs_time_finished "
        "WHERE time_finished IS NOT NULL AND state IN ('SUCCESS', 'FAILED', 'ABORTED') "
        "AND transient = 0 ORDER BY time_finished, id LIMIT 5"
    ).fetchall()
    details = " ".join(row[3] for row in plan)
    assert "SEARCH jobs USING INDEX jobs_time_finished" in details


@pytest.mark.parametrize(
    ("setting", "value"),
    [("max_finished", -1), ("max_finished", 1.5), ("max_finished", True),
     ("transient_grace", -0.5), ("transient_grace", float("nan")), ("transient_grace", "1")],
)  # fmt: skip
def test_a_bad_retention_setting_is_refused_when_given(
    make_store: Any, setting: str, value: Any
) -> None:
    """At construction and on assignment alike, before any job could be pruned by it."""
    with pytest.raises(ValueError, match=setting):
        make_store(**{setting: value})
    store = make_store()
    with pytest.raises(ValueError, match=setting):
        setattr(store, setting, value)
    assert (store.max_finished, store.transient_grace) == (1000, 0.0)


def test_finished_imports_without_time_finished_go_first(make_store: Make) -> None:
    """An undated finished job finished at some unknown time before now: it is the oldest."""
    store = make_store(max_finished=2)
    dated = store.insert_many(
        [{"method": "m", "state": "SUCCESS", "time_finished": "2026-01-01T00:00:00Z"}]
    )
    undated = store.insert_many([{"method": "m", "state": "FAILED"} for _ in range(2)])
    assert store.prune() == undated[:1]
    newest = _finish(store)
    assert _ids(store) == [*dated, newest]
    assert _finished_count(store) == 2
    # The same order as a query asking for the oldest finished first.
    store.insert_many([{"method": "m", "state": "ABORTED"}])
    oldest = store.get_jobs([["state", "in", ["SUCCESS", "FAILED", "ABORTED"]]],
                            {"order_by": ["time_finished"], "limit": 1, "get": True})  # fmt: skip
    assert store.prune() == [oldest["id"]]


def test_finished_transient_import_without_time_finished_is_removed(make_store: Make) -> None:
    store = make_store(transient_grace=3600)
    kept = store.insert_many(
        [{"method": "m", "transient": True, "state": "SUCCESS",
          "time_finished": "2999-01-01T00:00:00Z"},
         {"method": "m", "transient": True, "state": "RUNNING"}]
    )  # fmt: skip
    undated = store.insert_many([{"method": "m", "transient": True, "state": "SUCCESS"}])
    assert store.prune() == undated
    assert _ids(store) == kept


def test_none_turns_each_rule_off(make_store: Make) -> None:
    keep_all = make_store(max_finished=None, transient_grace=None)
    finished = [_finish(keep_all) for _ in range(5)]
    transient = _finish(keep_all, transient=True)
    assert keep_all.prune() == []
    assert _ids(keep_all) == [*finished, transient]
    assert (keep_all.max_finished, keep_all.transient_grace) == (None, None)
    keep_all.max_finished = 2  # back on: the next write trims
    assert keep_all.prune() == finished[:3]
    keep_all.transient_grace = 0
    assert keep_all.prune() == [transient]
    no_limit = make_store(":memory:", max_finished=None)
    kept = [_finish(no_limit) for _ in range(3)]
    _finish(no_limit, transient=True)  # still removed when it finishes
    assert _ids(no_limit) == kept
