"""insert_many: JSON-form jobs in, all or nothing, errors that name the job and field."""

from __future__ import annotations

from typing import Any

import pytest

from jobstore import InvalidJob, JobStoreError
from jobstore.models import JOB_FIELDS, Job
from jobstore.store import JobStore


def _full_job(job_id: int) -> dict[str, Any]:
    return {
        "id": job_id,
        "message_ids": ["a"],
        "method": "pool.scrub",
        "arguments": ["tank", {"deep": True}],
        "transient": False,
        "description": "Scrub",
        "abortable": True,
        "logs_path": "/var/log/jobs/1.log",
        "logs_excerpt": "line",
        "progress": {"percent": 100, "description": "done", "extra": {"k": [1.5, None]}},
        "result": {"ok": True},
        "result_encoding_error": None,
        "error": None,
        "exception": None,
        "exc_info": None,
        "state": "SUCCESS",
        "time_started": "2026-11-28T10:00:00.000001+00:00",
        "time_finished": "2026-11-28T10:05:00.000000+00:00",
        "credentials": {"type": "LOGIN_PASSWORD", "data": {"username": "root"}},
    }


def test_full_jobs_round_trip_exactly(store: JobStore, check_job: Any) -> None:
    jobs = [_full_job(7), {**_full_job(3), "state": "FAILED", "error": "x", "exc_info": {
        "repr": "E()", "type": "E", "errno": None, "extra": {"a": 1}}}]  # fmt: skip
    assert store.insert_many(jobs) == [7, 3]
    assert store.get_job(7) == jobs[0]
    assert store.get_job(3) == jobs[1]
    for job in store._select_all():
        check_job(job)


def test_missing_fields_take_defaults_and_new_ids(store: JobStore, check_job: Any) -> None:
    existing = store.create("m")
    ids = store.insert_many([{"method": "a"}, {"method": "b", "id": 50}, {"method": "c"}])
    assert ids == [51, 50, 52]  # new ids come after every id in use or given
    job = store.get_job(ids[0])
    check_job(job)
    assert job == {**Job(method="a").model_dump(mode="json"), "id": ids[0]}
    assert existing < ids[0]


def test_timestamps_are_normalised(store: JobStore) -> None:
    job = {
        "method": "m",
        "time_started": "2026-11-28T12:10:50+02:00",
        "time_finished": {"$date": 1764324650123},
    }
    (job_id,) = store.insert_many([job])
    job = store.get_job(job_id)
    assert job["time_started"] == "2026-11-28T10:10:50.000000+00:00"
    assert job["time_finished"] == "2025-11-28T10:10:50.123000+00:00"


def test_accepts_job_models_and_generators(store: JobStore) -> None:
    ids = store.insert_many(Job(method=f"m{i}") for i in range(3))
    assert [store.get_job(i)["method"] for i in ids] == ["m0", "m1", "m2"]
    assert store.insert_many([]) == []


@pytest.mark.parametrize(
    ("bad", "pattern"),
    [
        ({"method": "m", "state": "DONE"}, r"job #2, field 'state'"),
        ({"method": "m", "transient": "yes"}, r"job #2, field 'transient'"),
        ({"method": "m", "bogus": 1}, r"job #2, field 'bogus'.*[Ee]xtra"),
        ({"method": "m", "progress": {"percent": "5", "description": None, "extra": None}},
         r"job #2, field 'progress\.percent'"),
        ({"arguments": []}, r"job #2, field 'method'.*required"),
        ({"method": "m", "result": {"n": 2**64}}, r"job #2, field 'result'.*result\.n"),
        ({"method": "m", "arguments": ["a\x00b"]}, r"job #2, field 'arguments'.*arguments\[0\]"),
        ({"method": "m", "time_started": "yesterday"}, r"job #2, field 'time_started'"),
        ({"method": "m", "id": 0}, r"job #2, field 'id'"),
        ({"method": "m", "id": 2**63}, r"job #2, field 'id'"),
        ({"method": "pool.\ud800"}, r"job #2, field 'method': strings may not contain lone"),
        ({"method": "m", "error": "x\udcff"}, r"job #2, field 'error': strings may not"),
        ({"method": "m", "logs_excerpt": "\udcff"}, r"job #2, field 'logs_excerpt'"),
        ({"method": "m", "result": {"k\ud800": 1}}, r"job #2, field 'result'.*surrogates"),
        ("not a job", r"job #2"),
    ],
)  # fmt: skip
def test_a_bad_job_rejects_the_whole_batch(store: JobStore, bad: Any, pattern: str) -> None:
    before = store.create("kept")
    with pytest.raises(InvalidJob, match=pattern):
        store.insert_many([{"method": "ok"}, {"method": "ok", "id": 10}, bad, {"method": "ok"}])
    assert [job["id"] for job in store._select_all()] == [before]


def test_error_index_counts_across_chunks(store: JobStore) -> None:
    jobs: list[Any] = [{"method": "m"} for _ in range(2500)]
    jobs[2345] = {"method": 1}
    with pytest.raises(InvalidJob, match=r"job #2345, field 'method'"):
        store.insert_many(jobs)
    assert store._select_all() == []


def test_duplicate_id_within_the_batch(store: JobStore) -> None:
    with pytest.raises(InvalidJob, match=r"job #2, field 'id': id 5 is also given to job #0"):
        store.insert_many([{"method": "a", "id": 5}, {"method": "b"}, {"method": "c", "id": 5}])
    assert store._select_all() == []


def test_duplicate_id_with_an_existing_job(store: JobStore) -> None:
    store.insert_many([{"method": "a", "id": 5}])
    with pytest.raises(InvalidJob, match=r"job #1, field 'id': a job with id 5 already exists"):
        store.insert_many([{"method": "b", "id": 6}, {"method": "c", "id": 5}])
    assert [job["method"] for job in store._select_all()] == ["a"]


def test_progress_callback_and_batches(store: JobStore) -> None:
    seen: list[int] = []
    ids = store.insert_many(({"method": "m"} for _ in range(25)), batch_size=10,
                            progress=seen.append)  # fmt: skip
    assert seen == [10, 20, 25]
    assert len(ids) == 25 == len(store._select_all())


def test_failing_progress_callback_rolls_back(store: JobStore) -> None:
    def stop(done: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        store.insert_many([{"method": "m"}] * 5, batch_size=2, progress=stop)
    assert store._select_all() == []


def test_get_jobs_output_can_be_imported_again(make_store: Any, tmp_path: Any) -> None:
    source = make_store(tmp_path / "a.db")
    job_id = source.create("m", [1], credentials={"type": "t", "data": {"username": "u"}})
    source.start(job_id)
    source.set_progress(job_id, 12.5, "x", {"y": 1})
    source.fail(job_id, RuntimeError("boom"))
    dump = source._select_all()
    target = make_store(tmp_path / "b.db")
    assert target.insert_many(dump) == [job_id]
    assert target._select_all() == dump
    assert list(dump[0]) == list(JOB_FIELDS)


def test_job_models_are_validated_again(store: JobStore) -> None:
    """A model changed after it was built (assignment is not validated) is checked anew."""
    late = Job(method="m")
    late.time_finished = "yesterday"
    with pytest.raises(InvalidJob, match=r"job #1, field 'time_finished'"):
        store.insert_many([Job(method="ok"), late])
    bogus = Job(method="m")
    bogus.state = "BOGUS"  # type: ignore[assignment]
    with pytest.raises(InvalidJob, match=r"job #0, field 'state'"):
        store.insert_many([bogus])
    assert store._select_all() == []


def test_when_the_highest_id_is_taken_no_new_id_is_given(store: JobStore) -> None:
    top = 2**63 - 1
    assert store.insert_many([{"method": "last", "id": top}]) == [top]
    with pytest.raises(InvalidJob, match=r"job #1, field 'id': no id is left"):
        store.insert_many([{"method": "a", "id": 5}, {"method": "b"}])
    with pytest.raises(JobStoreError, match="no job id is left"):
        store.create("m")
    assert [job["id"] for job in store._select_all()] == [top]
    assert store.insert_many([{"method": "a", "id": 5}]) == [5]  # explicit ids still fit


@pytest.mark.parametrize("jobs", [None, 5, {"method": "m"}, "jobs", Job(method="m")])
def test_what_is_not_a_collection_of_jobs_is_refused(store: JobStore, jobs: Any) -> None:
    with pytest.raises(InvalidJob, match="insert_many takes an iterable of jobs"):
        store.insert_many(jobs)


def test_the_error_names_the_first_bad_job_whatever_makes_it_bad(store: JobStore) -> None:
    """Schema errors are found per chunk, values per job and taken ids in the store last:
    the message still names the earliest bad job."""
    taken = store.create("m")
    with pytest.raises(InvalidJob, match=r"^job #1, field 'arguments'"):
        store.insert_many([{"method": "a"}, {"method": "b", "arguments": ["\x00"]}, {"method": 5}])
    with pytest.raises(InvalidJob, match=rf"^job #1, field 'id': a job with id {taken}"):
        store.insert_many([{"method": "a"}, {"method": "b", "id": taken}, {"method": 5}])
    assert [job["id"] for job in store._select_all()] == [taken]
