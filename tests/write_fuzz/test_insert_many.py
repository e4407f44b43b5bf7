"""``insert_many``: a batch stored exactly, or refused whole, naming the first bad job.

Also the check that the oracle's copy of job.schema.json is the spec.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import example, given, note, settings
from hypothesis import strategies as st

from jobstore import InvalidJob, JobStoreError
from jobstore.models import Job

from .oracle import (
    _SCHEMA_COPY,
    _SPEC,
    ID_MAX,
    INT64_MAX,
    INT64_MIN,
    MAX_DEPTH,
    STATES,
    _structure,
    assert_same,
    to_json,
)
from .values import FAST, Opaque, clean_text, hostile_key, nested, ok_json
from .world import SPECS, Outcome, World, attempt, folder_for, highest_id_ever, world

# -- insert_many ----------------------------------------------------------------------

JOB_DEFAULTS: dict[str, Any] = {
    "message_ids": [], "arguments": [], "transient": False, "description": None,
    "abortable": False, "logs_path": None, "logs_excerpt": None,
    "progress": {"percent": None, "description": None, "extra": None}, "result": None,
    "result_encoding_error": None, "error": None, "exception": None, "exc_info": None,
    "state": "WAITING", "time_started": None, "time_finished": None, "credentials": None,
}  # fmt: skip
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_JOB_INDEX = re.compile(r"job #(\d+)(?!\d)")
_datetimes = st.datetimes(datetime(1900, 1, 1), datetime(2200, 1, 1))
moments = st.one_of(_datetimes, _datetimes.map(lambda moment: moment.replace(microsecond=0)))
offsets = st.sampled_from(
    [UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-9, minutes=-30))]
)


@st.composite
def timestamps(draw: st.DrawFn) -> tuple[Any, str]:
    """(a timestamp insert_many accepts, the stored form README documents)."""
    moment = draw(moments)
    zone = draw(offsets)
    aware = moment.replace(tzinfo=zone)
    stored = aware.astimezone(UTC).isoformat(timespec="microseconds")
    form = draw(st.sampled_from(["stored", "aware", "naive", "iso", "iso_naive", "date_ms"]))
    if form == "stored":
        return stored, stored
    if form == "aware":
        return aware, stored
    if form == "naive":  # taken as UTC
        return moment, moment.replace(tzinfo=UTC).isoformat(timespec="microseconds")
    if form == "iso":
        return aware.isoformat(), stored
    if form == "iso_naive":
        return moment.isoformat(), moment.replace(tzinfo=UTC).isoformat(timespec="microseconds")
    millis = draw(st.integers(-4 * 10**12, 4 * 10**12))  # exact in a float of seconds
    return {"$date": millis}, (EPOCH + timedelta(milliseconds=millis)).isoformat(
        timespec="microseconds"
    )


optional_text = st.one_of(st.none(), clean_text)
ok_text = clean_text  # inside JSON: no NUL, no lone surrogate
good_fields: dict[str, st.SearchStrategy[Any]] = {
    "message_ids": st.lists(ok_json, max_size=3),
    "arguments": st.lists(ok_json, max_size=3),
    "transient": st.booleans(),
    "description": optional_text,
    "abortable": st.booleans(),
    "logs_path": optional_text,
    "logs_excerpt": optional_text,
    "progress": st.fixed_dictionaries({
        "percent": st.one_of(st.none(), st.integers(INT64_MIN, INT64_MAX)),
        "description": st.one_of(st.none(), ok_text), "extra": ok_json,
    }),
    "result": ok_json,
    "result_encoding_error": ok_json,
    "error": optional_text,
    "exception": optional_text,
    "exc_info": st.one_of(st.none(), st.fixed_dictionaries({
        "repr": st.one_of(st.none(), ok_text), "type": st.one_of(st.none(), ok_text),
        "errno": st.one_of(st.none(), st.integers(INT64_MIN, INT64_MAX)), "extra": ok_json,
    })),
    "state": st.sampled_from(STATES),
    "credentials": st.one_of(
        st.none(),
        st.fixed_dictionaries({"type": ok_text, "data": st.dictionaries(ok_text, ok_json)}),
    ),
}  # fmt: skip


@dataclass
class Incoming:
    """One job of a batch: what is given, and (for a good one) how it must read back."""

    given: Any
    expected: dict[str, Any] | None  # None: a bad job
    explicit_id: int | None = None
    why: str = ""


@st.composite
def good_job(draw: st.DrawFn, explicit_id: int | None) -> Incoming:
    given: dict[str, Any] = {"method": draw(clean_text)}
    expected = {**JOB_DEFAULTS, "method": given["method"]}
    for name in draw(st.sets(st.sampled_from(sorted(good_fields)))):
        value = draw(good_fields[name])
        given[name] = value
        expected[name] = to_json(value)
    for name in draw(st.sets(st.sampled_from(["time_started", "time_finished"]))):
        value, stored = draw(st.one_of(st.just((None, None)), timestamps()))
        given[name] = value
        expected[name] = stored
    if explicit_id is not None:
        given["id"] = explicit_id
    if draw(st.booleans()):  # a Job model instead of a dict
        return Incoming(Job.model_validate(given), expected, explicit_id)
    return Incoming(given, expected, explicit_id)


BAD_CHANGES: list[tuple[str, Any]] = [
    # (why, a change that makes a good job bad): pydantic errors...
    ("no method", {"method": None}), ("method not a string", {"method": 5}),
    ("unknown field", {"bogus": 1}), ("arguments not a list", {"arguments": "abc"}),
    ("transient not a bool", {"transient": 1}), ("bad state", {"state": "DONE"}),
    ("float percent", {"progress": {"percent": 1.5, "description": None, "extra": None}}),
    ("partial progress", {"progress": {"percent": 1}}),
    ("description not text", {"description": 5}),
    ("credentials without data", {"credentials": {"type": "t"}}),
    ("exc_info errno bool",
     {"exc_info": {"repr": "r", "type": None, "errno": True, "extra": None}}),
    ("id not an int", {"id": "3"}), ("id a bool", {"id": True}),
    ("not a timestamp", {"time_started": "yesterday"}), ("timestamp int", {"time_finished": 5}),
    ("bad $date", {"time_finished": {"$date": "soon"}}),
    ("month 13", {"time_started": "2026-13-01T00:00:00"}),
    # ...values that cannot be stored...
    ("NaN argument", {"arguments": [math.nan]}), ("int beyond 64 bits", {"result": 2**64}),
    ("NUL in JSON", {"result": "a\x00b"}), ("surrogate in JSON", {"message_ids": ["\ud800"]}),
    ("surrogate in method", {"method": "m\udcff"}), ("surrogate in text", {"error": "\ud83d"}),
    ("object in JSON", {"result_encoding_error": Opaque()}), ("set in JSON", {"arguments": [{1}]}),
    ("non-string key", {"result": {1: 2}}),
    ("too deep", {"result": nested(MAX_DEPTH + 1, ["list"])}),
    ("too deep in progress", {"progress": {"percent": None, "description": None,
                                           "extra": nested(MAX_DEPTH, ["dict"])}}),
    ("inf in credentials", {"credentials": {"type": "t", "data": {"x": math.inf}}}),
    # ...and ids no job can have.
    ("id 0", {"id": 0}), ("negative id", {"id": -5}), ("id beyond 2^63-1", {"id": 2**63}),
]  # fmt: skip
NOT_JOBS: list[Any] = [None, "job", 5, ["method", "m"], Opaque()]


@st.composite
def bad_job(draw: st.DrawFn, earlier_ids: list[int]) -> Incoming:
    """A job that must be refused: a broken good job, a non-job, or a duplicate id."""
    choice = draw(st.integers(0, 9))
    if choice == 0:
        return Incoming(draw(st.sampled_from(NOT_JOBS)), None, why="not a job")
    if choice == 1 and earlier_ids:
        duplicate = draw(st.sampled_from(earlier_ids))
        return Incoming({"method": "dup", "id": duplicate}, None, why="duplicate id")
    why, change = draw(st.sampled_from(BAD_CHANGES))
    if choice == 2:
        why, change = "hostile key", {"arguments": [draw(st.builds(hostile_key))]}
    base = draw(good_job(None)).given
    given = dict(base.model_dump() if isinstance(base, Job) else base)
    given.update(change)
    if change.get("method", "") is None:
        del given["method"]
    return Incoming(given, None, why=why)


@st.composite
def batches(draw: st.DrawFn, bad: int) -> list[Incoming]:
    """Up to 6 good jobs (some with their own ids) with ``bad`` bad ones at random places,
    sometimes after plain jobs that push them across insert_many's chunks of 50."""
    padding = draw(st.sampled_from([0, 0, 0, 47, 50, 98]))
    pad = {**JOB_DEFAULTS, "method": "pad"}
    batch: list[Incoming] = [Incoming({"method": "pad"}, pad) for _ in range(padding)]
    size = padding + draw(st.integers(max(bad, 1), 6 + bad))
    bad_at = set(
        draw(st.lists(st.integers(padding, size - 1), min_size=bad, max_size=bad, unique=True))
    )
    for index in range(padding, size):
        earlier = [job.explicit_id for job in batch if job.expected is not None and job.explicit_id]
        if index in bad_at:
            batch.append(draw(bad_job(earlier)))
        else:
            explicit = 1000 + index if draw(st.booleans()) else None
            batch.append(draw(good_job(explicit)))
    return batch


def insert(w: World, batch: list[Incoming]) -> tuple[Outcome, list[Any]]:
    returned: list[Any] = []
    outcome = attempt(w, None, lambda: returned.extend(w.store.insert_many(j.given for j in batch)))
    return outcome, returned


def check_inserted(w: World, outcome: Outcome, batch: list[Incoming], ids: list[Any]) -> None:
    assert outcome.error is None, f"a good batch was refused: {outcome.error!r}"
    assert len(ids) == len(batch) and len(set(ids)) == len(ids)
    last = highest_id_ever(outcome.before)
    for job_id, job in zip(ids, batch, strict=True):
        assert job.expected is not None and type(job_id) is int
        if job.explicit_id is not None:
            assert job_id == job.explicit_id, "insert_many did not keep the job's id"
        else:
            assert job_id > last, "insert_many handed out an id that was used before"
        assert_same(w.store.get_job(job_id), {"id": job_id, **job.expected}, f"job {job_id}")
    assert outcome.after.jobs.keys() == outcome.before.jobs.keys() | set(ids)
    assert {k: outcome.after.jobs[k] for k in outcome.before.jobs} == outcome.before.jobs


def first_bad_index(error: JobStoreError | None, batch: list[Incoming]) -> tuple[int, int]:
    """(the index the error names, the index of the first bad job)."""
    assert isinstance(error, InvalidJob), f"a bad batch was not refused with InvalidJob: {error!r}"
    found = _JOB_INDEX.match(str(error))
    assert found, f"the error does not start with 'job #<index>': {error}"
    first = next(i for i, job in enumerate(batch) if job.expected is None)
    return int(found.group(1)), first


@FAST
@example(
    batch=[
        Incoming(
            {"method": "update.download", "state": "SUCCESS", "arguments": [(1, 2)],
             "time_started": datetime(2026, 11, 28, 10, 10, 50),
             "time_finished": {"$date": 1_700_000_000_000}},
            {**JOB_DEFAULTS, "method": "update.download", "state": "SUCCESS",
             "arguments": [[1, 2]], "time_started": "2026-11-28T10:10:50.000000+00:00",
             "time_finished": "2023-11-14T22:13:20.000000+00:00"},
        ),
        Incoming(
            {"method": "m", "id": 4000, "time_started": "2026-11-28T12:10:50.5+02:00"},
            {**JOB_DEFAULTS, "method": "m", "time_started": "2026-11-28T10:10:50.500000+00:00"},
            explicit_id=4000,
        ),
    ],
    on_file=False,
)  # fmt: skip
@given(batch=batches(bad=0), on_file=st.booleans())
def test_insert_many_stores_good_jobs_exactly(
    tmp_path_factory: pytest.TempPathFactory, batch: list[Incoming], on_file: bool
) -> None:
    """Missing fields take a new job's defaults, ids are kept, timestamps normalised."""
    with world(folder_for(tmp_path_factory, on_file)) as w:
        outcome, ids = insert(w, batch)
        check_inserted(w, outcome, batch, ids)


@FAST
@given(batch=batches(bad=1), on_file=st.booleans())
def test_insert_many_refuses_a_batch_with_a_bad_job(
    tmp_path_factory: pytest.TempPathFactory, batch: list[Incoming], on_file: bool
) -> None:
    """All or nothing: InvalidJob starting 'job #<index>' of the bad job, nothing written."""
    note(f"bad job: {[(i, j.why) for i, j in enumerate(batch) if j.expected is None]}")
    with world(folder_for(tmp_path_factory, on_file)) as w:
        outcome, _ = insert(w, batch)
        named, first = first_bad_index(outcome.error, batch)
        assert named == first, f"the error names job #{named}, the bad job is #{first}"


@FAST
@given(drawn=st.sampled_from(sorted(SPECS)), position=st.integers(0, 3))
def test_insert_many_refuses_an_id_already_taken(drawn: str, position: int) -> None:
    """insert_many: an id that is already in the store makes the batch fail, naming its job."""
    with world(None) as w:
        batch = [Incoming({"method": "m"}, {}) for _ in range(3)]
        batch.insert(position, Incoming({"method": "m", "id": w.ids[drawn]}, None, why="taken"))
        outcome, _ = insert(w, batch)
        named, first = first_bad_index(outcome.error, batch)
        assert named == first


@FAST
@example(
    batch=[
        Incoming({"method": "a"}, {}),
        Incoming({"method": "b", "arguments": ["\x00"]}, None, why="NUL in JSON"),
        Incoming({"method": 5}, None, why="method not a string"),
    ]
)
@given(batch=batches(bad=2))
def test_insert_many_names_the_first_of_several_bad_jobs(batch: list[Incoming]) -> None:
    """batch.py: 'Raises InvalidJob naming the first bad job's index and field'."""
    note(f"bad jobs: {[(i, j.why) for i, j in enumerate(batch) if j.expected is None]}")
    with world(None) as w:
        outcome, _ = insert(w, batch)
        named, first = first_bad_index(outcome.error, batch)
        assert named == first, f"the error names job #{named}, the first bad job is #{first}"


def test_insert_many_names_a_taken_id_before_a_later_bad_job() -> None:
    """The first bad job may be bad for its id being taken in the store."""
    with world(None) as w:
        batch = [
            Incoming({"method": "m", "id": w.ids["waiting"]}, None, why="taken"),
            Incoming({"method": 5}, None, why="method not a string"),
        ]
        outcome, _ = insert(w, batch)
        named, first = first_bad_index(outcome.error, batch)
        assert named == first


@given(jobs=st.sampled_from([None, 5, 1.5, Opaque()]))
@settings(max_examples=4, deadline=None)
def test_insert_many_refuses_what_is_not_a_collection_of_jobs(jobs: Any) -> None:
    """Whatever ``jobs`` is, a JobStoreError (InvalidJob) or success, never a TypeError."""
    with world(None) as w:
        outcome = attempt(w, None, lambda: w.store.insert_many(jobs))
        assert isinstance(outcome.error, InvalidJob)


def test_the_highest_id_once_taken_refuses_new_jobs() -> None:
    """README: once 2^63 - 1 is taken, create raises JobStoreError, insert_many refuses
    jobs without an id; nothing changes."""
    with world(None) as w:
        assert w.store.insert_many([{"method": "last", "id": ID_MAX}]) == [ID_MAX]
        outcome = attempt(w, None, lambda: w.store.create("m"))
        assert outcome.error is not None, "create handed out an id beyond 2^63 - 1"
        batch = [Incoming({"method": "m", "id": 5000}, {}), Incoming({"method": "m"}, None)]
        outcome, _ = insert(w, batch)
        assert first_bad_index(outcome.error, batch) == (1, 1)


def test_schema_copy_is_the_spec() -> None:
    """The copy of job.schema.json used when the spec folder is absent is the spec."""
    if not _SPEC.exists():
        pytest.skip("the spec folder is not beside this checkout")
    assert _structure(json.loads(_SPEC.read_text())) == _SCHEMA_COPY
