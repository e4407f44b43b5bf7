"""A store with a job in every state, and the checks around every write.

Whatever is given to ``create``, ``start``, ``set_progress``, ``append_log``, ``succeed``,
``fail``, ``fail_with``, ``abort`` or ``insert_many``, the call either

* succeeds, and the job then reads back exactly as written, in the JSON form of
  job.schema.json (tuples as lists, ``percent`` rounded down, an unstorable result
  as ``result: None`` with a string ``result_encoding_error``, a caught exception's
  text with escapes), while every other job stays exactly as it was; or
* raises a ``JobStoreError`` (never anything else) and leaves the database exactly
  as it was: every row of every table, the schema and every log file.

``attempt`` runs a write between two snapshots of the whole database and checks the
second case; ``expect``, ``check_others_unchanged`` and ``check_finished`` the first.
``targets`` draws what a write is aimed at: a job of the world, an unknown id, or no id.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import event, note
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from jobstore import IllegalTransition, InvalidJob, JobNotFound, JobStore, JobStoreError

from .oracle import BAD, ID_MAX, INT64_MIN, OK, Verdict, assert_job_form, assert_same
from .values import Opaque

# -- the database, all of it -------------------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    """Every row of every table, the schema, and every log file, as bytes."""

    tables: dict[str, list[tuple[Any, ...]]]
    schema: list[tuple[Any, ...]]
    logs: dict[str, bytes]

    @property
    def jobs(self) -> dict[int, tuple[Any, ...]]:
        return {row[0]: row for row in self.tables["jobs"]}


def snapshot(store: JobStore) -> Snapshot:
    conn = store.db.conn
    schema = conn.execute(
        "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name"
    ).fetchall()
    schema.append(conn.execute("PRAGMA user_version").fetchone())
    tables = {
        name: conn.execute(f'SELECT * FROM "{name}" ORDER BY rowid').fetchall()
        for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
    }
    folder = Path(store.logs_dir)
    logs = {p.name: p.read_bytes() for p in sorted(folder.iterdir())} if folder.exists() else {}
    return Snapshot(tables, schema, logs)


def highest_id_ever(shot: Snapshot) -> int:
    """The highest id handed out so far (AUTOINCREMENT's memory or the table's max)."""
    seq = [row[1] for row in shot.tables.get("sqlite_sequence", []) if row[0] == "jobs"]
    return max([0, *seq, *shot.jobs])


def check_store(store: JobStore) -> list[dict[str, Any]]:
    """Every job, by get_jobs and by get_job, in the schema's form; returns the jobs."""
    jobs = store.get_jobs([], {"order_by": ["id"]})
    assert isinstance(jobs, list)
    for job in jobs:
        assert_job_form(job)
        assert_same(store.get_job(job["id"]), job, f"get_job({job['id']}) vs get_jobs")
    return jobs


# -- a store with a job in every state --------------------------------------------------

LOG = b"".join(b"line %d\n" % n for n in range(1, 26))
#: README: first and last 10 lines with "... N more lines ..." between.
LOG_EXCERPT = "\n".join(
    [
        *(f"line {n}" for n in range(1, 11)),
        "... 5 more lines ...",
        *(f"line {n}" for n in range(16, 26)),
    ]
)
ALICE = {"type": "LOGIN_PASSWORD", "data": {"username": "alice"}}
ALICE_CALLER = {"username": "alice", "roles": []}


@dataclass(frozen=True)
class Spec:
    """A job of the world: how it was made."""

    state: str
    abortable: bool = False
    transient: bool = False
    owned: bool = False
    logged: bool = False


SPECS: dict[str, Spec] = {
    "waiting": Spec("WAITING"),
    "waiting_abortable": Spec("WAITING", abortable=True, owned=True),
    "running": Spec("RUNNING", logged=True),
    "running_abortable": Spec("RUNNING", abortable=True, owned=True, logged=True),
    "success": Spec("SUCCESS", logged=True),
    "failed": Spec("FAILED"),
    "aborted": Spec("ABORTED", owned=True),
    "transient_waiting": Spec("WAITING", transient=True),
    "transient_running": Spec("RUNNING", abortable=True, transient=True, logged=True),
}


@dataclass
class World:
    store: JobStore
    ids: dict[str, int]
    gone: int  # an id once handed out, now deleted (a finished transient job)


@contextmanager
def world(folder: Path | None) -> Iterator[World]:
    """A fresh store (a WAL file in ``folder``, or ``:memory:``) holding one job per SPECS."""
    store = JobStore(":memory:" if folder is None else folder / "jobs.db")
    try:
        if folder is not None:
            (mode,) = store.db.conn.execute("PRAGMA journal_mode").fetchone()
            assert mode == "wal"
        ids = {}
        for name, spec in SPECS.items():
            job_id = store.create(
                f"test.{name}",
                [name, {"n": 1}],
                description=name,
                transient=spec.transient,
                abortable=spec.abortable,
                credentials=ALICE if spec.owned else None,
            )
            if spec.logged:
                store.append_log(job_id, LOG)
            if spec.state in ("RUNNING", "SUCCESS", "FAILED"):
                store.start(job_id)
                store.set_progress(job_id, 12.5, "working", {"done": [1, 2]})
            if spec.state == "SUCCESS":
                store.succeed(job_id, {"ok": True})
            elif spec.state == "FAILED":
                store.fail(job_id, "it broke")
            elif spec.state == "ABORTED":
                store.abort(job_id)
            ids[name] = job_id
        gone = store.create("test.gone", transient=True)
        store.abort(gone)
        yield World(store, ids, gone)
    finally:
        store.close()


def folder_for(factory: pytest.TempPathFactory, on_file: bool) -> Path | None:
    return factory.mktemp("store") if on_file else None


# -- targets: a job of the world, an unknown id, or no id at all ----------------------

RAW_IDS: list[Any] = [
    0, -1, INT64_MIN, ID_MAX, ID_MAX + 1, 2**64, 10**100, -(10**100),
    "1", "", 1.0, 1.5, math.nan, True, False, None, [1], (1,), b"1", Decimal(1), Opaque(),
]  # fmt: skip
# Mostly jobs of the world (7 in 10), so that most writes get as far as their values.
targets = st.sampled_from([*sorted(SPECS) * 6, "gone", "next", *(("raw", raw) for raw in RAW_IDS)])


@dataclass(frozen=True)
class Target:
    value: Any  # what is passed as job_id
    spec: Spec | None  # the job's, if it exists
    name: str

    @property
    def kind(self) -> str:
        """'job', 'missing' (an integer no job has) or 'not an id'."""
        if self.spec is not None:
            return "job"
        if type(self.value) is int:
            return "missing"
        return "not an id"


def resolve(w: World, drawn: Any) -> Target:
    if isinstance(drawn, tuple):
        return Target(drawn[1], None, f"raw {drawn[1]!r:.40}")
    if drawn == "gone":
        return Target(w.gone, None, "gone")
    if drawn == "next":
        return Target(highest_id_ever(snapshot(w.store)) + 1, None, "next")
    return Target(w.ids[drawn], SPECS[drawn], drawn)


@dataclass
class Outcome:
    """What a write did: raised, or the target job before and after."""

    error: JobStoreError | None
    before: Snapshot
    after: Snapshot
    old: dict[str, Any] | None
    new: dict[str, Any] | None
    started: str
    ended: str


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def attempt(w: World, target: Target | None, call: Callable[[], Any]) -> Outcome:
    """Run one write; if it raises a JobStoreError, check that nothing changed.

    Any other exception propagates and fails the test.
    """
    store = w.store
    before = snapshot(store)
    old = store.get_job(target.value) if target is not None and target.kind == "job" else None
    started = now()
    error: JobStoreError | None = None
    try:
        call()
    except JobStoreError as exc:
        error = exc
    ended = now()
    after = snapshot(store)
    if error is not None:
        with suppress(InvalidArgument):  # outside of a hypothesis test
            note(f"raised {type(error).__name__}: {error}")
        assert after == before, f"{type(error).__name__} ({error}) but the database changed"
    new = None
    if target is not None and target.kind == "job" and error is None:
        found = store.get_jobs([["id", "=", target.value]])
        assert isinstance(found, list)
        new = found[0] if found else None
    check_store(store)
    return Outcome(error, before, after, old, new, started, ended)


def expect(outcome: Outcome, target: Target, allowed: bool, verdict: Verdict) -> bool:
    """Check the outcome's kind (raised or not, and what); True if the write happened."""
    error = outcome.error
    kind = target.kind
    event(f"{kind}{' (allowed)' if allowed else ''}, {verdict.name}: {type(error).__name__}")
    if kind == "job" and allowed:
        if verdict is OK:
            assert error is None, f"a valid write was refused: {error!r}"
        elif verdict is BAD:
            assert isinstance(error, InvalidJob), f"an invalid value was not refused: {error!r}"
        else:
            assert error is None or isinstance(error, InvalidJob), repr(error)
        return error is None
    assert error is not None, f"a write to a {kind} target ({target.name}) was not refused"
    if verdict is OK:
        if kind == "job":
            assert isinstance(error, IllegalTransition), repr(error)
        elif kind == "missing":
            assert isinstance(error, JobNotFound), repr(error)
    return False


def check_others_unchanged(outcome: Outcome, job_id: int) -> None:
    """Every job but ``job_id`` is exactly as it was, row for row."""
    before = {k: v for k, v in outcome.before.jobs.items() if k != job_id}
    after = {k: v for k, v in outcome.after.jobs.items() if k != job_id}
    assert after == before
    mine = f"{job_id}.log"
    logs_before = {name: data for name, data in outcome.before.logs.items() if name != mine}
    assert {name: data for name, data in outcome.after.logs.items() if name != mine} == logs_before


def check_finished(
    outcome: Outcome, w: World, target: Target, state: str, changes: dict[str, Any]
) -> None:
    """The target finished as ``state``: exactly ``changes`` (and the times) moved; a transient
    job is gone with its log (README: "transient jobs go when they finish")."""
    assert target.spec is not None and outcome.old is not None
    job_id = target.value
    check_others_unchanged(outcome, job_id)
    if target.spec.transient:
        assert outcome.new is None, "a finished transient job was kept"
        assert f"{job_id}.log" not in outcome.after.logs, "a pruned job's log was kept"
        return
    new = outcome.new
    assert new is not None, "the finished job is gone"
    assert new["time_finished"] is not None
    assert outcome.started <= new["time_finished"] <= outcome.ended
    expected = {**outcome.old, **changes, "state": state, "time_finished": new["time_finished"]}
    if outcome.old["logs_path"] is not None:
        expected["logs_excerpt"] = LOG_EXCERPT
    assert_same(new, expected, "finished job")
