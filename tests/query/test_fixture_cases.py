"""Conformance cases for the query language, from the data files in fixtures/queries/.

Each case runs through ``jobstore.filter_list`` and through a real SQLite store
(``JobStore.insert_many`` then ``get_jobs``); both must give the answer the case
states. The format is described in fixtures/queries/README.md.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

CASES_DIR = Path(__file__).resolve().parents[2] / "fixtures" / "queries"

EXPECT_KEYS = ("expect_ids", "expect_id", "expect", "error")
ERROR_NAMES = ("QueryError", "MatchNotFound")
FILE_KEYS = {"description", "jobs", "cases"}
CASE_KEYS = {"name", "filters", "options", "store", "jobs", "note", *EXPECT_KEYS}
DATETIME_TAG = "$datetime"

PROGRESS_DEFAULT = {"percent": None, "description": None, "extra": None}
EXC_INFO_KEYS = ("repr", "type", "errno", "extra")
JOB_DEFAULTS: dict[str, Any] = {
    "message_ids": [],
    "arguments": [],
    "transient": False,
    "description": None,
    "abortable": False,
    "logs_path": None,
    "logs_excerpt": None,
    "progress": PROGRESS_DEFAULT,
    "result": None,
    "result_encoding_error": None,
    "error": None,
    "exception": None,
    "exc_info": None,
    "state": "WAITING",
    "time_started": None,
    "time_finished": None,
    "credentials": None,
}
JOB_FIELDS = {"id", "method", *JOB_DEFAULTS}
STATES = {"WAITING", "RUNNING", "SUCCESS", "FAILED", "ABORTED"}


# ---------------------------------------------------------------- loading


def _load_files() -> dict[str, Any]:
    """Every case file by stem; a file that is not JSON fails collection loudly."""
    return {
        path.stem: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(CASES_DIR.glob("*.json"))
    }


FILES = _load_files()


def _cases_of(data: Any) -> list[Any]:
    if isinstance(data, dict) and isinstance(data.get("cases"), list):
        return data["cases"]
    return []


def _case_id(stem: str, index: int, case: Any) -> str:
    name = case.get("name") if isinstance(case, dict) else None
    return f"{stem}-{name}" if isinstance(name, str) and name else f"{stem}-#{index}"


def _params(*, store_only: bool) -> list[Any]:
    params = []
    for stem, data in FILES.items():
        for index, case in enumerate(_cases_of(data)):
            if store_only and isinstance(case, dict) and case.get("store") is False:
                continue
            params.append(pytest.param(stem, index, id=_case_id(stem, index, case)))
    return params


def full_job(partial: dict[str, Any]) -> dict[str, Any]:
    """A complete job dict: the partial one with every missing field at its default."""
    job = copy.deepcopy(JOB_DEFAULTS)
    job.update(copy.deepcopy(partial))
    if isinstance(job["progress"], dict):
        job["progress"] = {**PROGRESS_DEFAULT, **job["progress"]}
    if isinstance(job["exc_info"], dict):
        job["exc_info"] = {**dict.fromkeys(EXC_INFO_KEYS), **job["exc_info"]}
    return job


def decode_datetimes(value: Any) -> Any:
    """Replace every ``{"$datetime": iso}`` object by the datetime it names."""
    if isinstance(value, dict):
        if set(value) == {DATETIME_TAG} and isinstance(value[DATETIME_TAG], str):
            return datetime.fromisoformat(value[DATETIME_TAG])
        return {key: decode_datetimes(item) for key, item in value.items()}
    if isinstance(value, list):
        return [decode_datetimes(item) for item in value]
    return value


def _has_datetime_tag(value: Any) -> bool:
    if isinstance(value, dict):
        return DATETIME_TAG in value or any(_has_datetime_tag(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_datetime_tag(item) for item in value)
    return False


def _file_jobs(stem: str) -> list[dict[str, Any]]:
    return [full_job(job) for job in FILES[stem]["jobs"]]


def _case(stem: str, index: int) -> dict[str, Any]:
    return FILES[stem]["cases"][index]


def _case_jobs(stem: str, case: dict[str, Any]) -> list[dict[str, Any]]:
    """The case's own jobs as written (datetimes decoded), else the file's, filled."""
    if "jobs" in case:
        return decode_datetimes(copy.deepcopy(case["jobs"]))
    return _file_jobs(stem)


# ---------------------------------------------------------------- comparing


def same(got: Any, want: Any) -> bool:
    """JSON equality where ``1 == 1.0`` but a bool never equals a number."""
    if isinstance(got, bool) or isinstance(want, bool):
        return type(got) is type(want) and got == want
    if isinstance(got, dict) and isinstance(want, dict):
        return got.keys() == want.keys() and all(same(got[k], want[k]) for k in want)
    if isinstance(got, list) and isinstance(want, list):
        return len(got) == len(want) and all(map(same, got, want))
    if isinstance(got, (dict, list)) or isinstance(want, (dict, list)):
        return False
    numbers = isinstance(got, (int, float)) and isinstance(want, (int, float))
    return got == want and (numbers or type(got) is type(want))


def _job_by_id(jobs: list[dict[str, Any]]) -> dict[Any, dict[str, Any]]:
    return {job["id"]: job for job in jobs if "id" in job}


def check_result(case: dict[str, Any], result: Any, jobs: list[dict[str, Any]]) -> None:
    """Assert that ``result`` is what ``case`` expects; ``jobs`` are the jobs queried."""
    by_id = _job_by_id(jobs)
    if "expect_ids" in case:
        assert isinstance(result, list), f"expected a list, got {result!r}"
        assert [item.get("id") for item in result] == case["expect_ids"]
        for item in result:
            assert same(item, by_id[item["id"]]), f"job {item['id']} came back changed: {item!r}"
    elif "expect_id" in case:
        assert isinstance(result, dict), f"expected one job (get), got {result!r}"
        assert result.get("id") == case["expect_id"]
        assert same(result, by_id[result["id"]]), f"job came back changed: {result!r}"
    else:
        assert result == case["expect"]
        assert same(result, case["expect"]), f"types differ: {result!r} vs {case['expect']!r}"
        if type(case["expect"]) is int:
            assert type(result) is int, f"a count is an integer, got {result!r}"


def run_case(case: dict[str, Any], call: Any, jobs: list[dict[str, Any]]) -> None:
    """Run ``call(filters, options)`` and check it against the case."""
    import jobstore

    store_run = case.get("store", True)
    filters = copy.deepcopy(case["filters"])
    if not store_run:
        filters = decode_datetimes(filters)
    options = copy.deepcopy(case.get("options"))
    if "error" in case:
        error = getattr(jobstore, case["error"])
        with pytest.raises(error):
            call(filters, options)
        return
    check_result(case, call(filters, options), jobs)


# ---------------------------------------------------------------- the cases


@pytest.mark.parametrize(("stem", "index"), _params(store_only=False))
def test_filter_list(stem: str, index: int) -> None:
    import jobstore

    case = _case(stem, index)
    jobs = _case_jobs(stem, case)
    items = copy.deepcopy(jobs)
    run_case(case, lambda f, o: jobstore.filter_list(items, f, o), jobs)


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One store per case file, built on first use and shared by that file's cases."""
    import jobstore

    built: dict[str, Any] = {}

    def store_for(stem: str) -> Any:
        if stem not in built:
            path = tmp_path_factory.mktemp(f"cases-{stem}") / "cases.db"
            store = jobstore.JobStore(str(path))
            store.insert_many(_file_jobs(stem))
            built[stem] = store
        return built[stem]

    yield store_for
    for store in built.values():
        close = getattr(store, "close", None)
        if callable(close):
            close()


@pytest.mark.parametrize(("stem", "index"), _params(store_only=True))
def test_store(stem: str, index: int, stores: Any) -> None:
    case = _case(stem, index)
    store = stores(stem)
    run_case(case, lambda f, o: store.get_jobs(f, o), _file_jobs(stem))


# ---------------------------------------------------------------- the format


def _format_problems(data: Any) -> Iterator[str]:
    """Everything in one case file that breaks the format of fixtures/queries/README.md."""
    if not isinstance(data, dict):
        yield "the file is not a JSON object"
        return
    if unknown := set(data) - FILE_KEYS:
        yield f"unknown top-level keys {sorted(unknown)}"
    if not isinstance(data.get("description", ""), str):
        yield "description is not a string"
    jobs, cases = data.get("jobs"), data.get("cases")
    if not isinstance(jobs, list):
        yield "jobs is missing or not a list"
        jobs = []
    if not isinstance(cases, list) or not cases:
        yield "cases is missing, empty or not a list"
        cases = []
    ids: set[int] = set()
    for n, job in enumerate(jobs):
        for problem in _job_problems(job, store=True):
            yield f"jobs[{n}]: {problem}"
        if isinstance(job, dict):
            if job.get("id") in ids:
                yield f"jobs[{n}]: duplicate id {job.get('id')}"
            ids.add(job.get("id"))
    names: set[str] = set()
    for n, case in enumerate(cases):
        for problem in _case_problems(case, ids):
            yield f"cases[{n}] ({case.get('name') if isinstance(case, dict) else '?'}): {problem}"
        if isinstance(case, dict):
            if case.get("name") in names:
                yield f"cases[{n}]: duplicate name {case.get('name')!r}"
            names.add(case.get("name"))


def _job_problems(job: Any, *, store: bool) -> Iterator[str]:
    if not isinstance(job, dict):
        yield "not an object"
        return
    if not isinstance(job.get("id"), int) or isinstance(job.get("id"), bool):
        yield "id is missing or not an integer"
    if not isinstance(job.get("method"), str):
        yield "method is missing or not a string"
    if unknown := set(job) - JOB_FIELDS:
        yield f"fields not in job.schema.json: {sorted(unknown)}"
        return
    if _has_datetime_tag(job):
        yield f"{DATETIME_TAG} is only allowed in a case's own jobs"
    full = full_job(job)
    for key in ("message_ids", "arguments"):
        if not isinstance(full[key], list):
            yield f"{key} is not a list"
    for key in ("transient", "abortable"):
        if not isinstance(full[key], bool):
            yield f"{key} is not a boolean"
    for key in ("description", "logs_path", "logs_excerpt", "error", "exception"):
        if full[key] is not None and not isinstance(full[key], str):
            yield f"{key} is not a string or null"
    for key in ("time_started", "time_finished"):
        if full[key] is not None and not _is_canonical_time(full[key]):
            yield f"{key} is not a canonical UTC timestamp"
    if full["state"] not in STATES:
        yield f"state {full['state']!r} is not a job state"
    progress = full["progress"]
    if not isinstance(progress, dict) or set(progress) != set(PROGRESS_DEFAULT):
        yield "progress must be an object with percent, description and extra"
    elif progress["percent"] is not None and (
        not isinstance(progress["percent"], int) or isinstance(progress["percent"], bool)
    ):
        yield "progress.percent is not an integer or null"
    exc_info = full["exc_info"]
    if exc_info is not None and (
        not isinstance(exc_info, dict) or set(exc_info) != set(EXC_INFO_KEYS)
    ):
        yield "exc_info must be null or an object with repr, type, errno and extra"
    credentials = full["credentials"]
    if credentials is not None and (
        not isinstance(credentials, dict)
        or set(credentials) != {"type", "data"}
        or not isinstance(credentials["type"], str)
        or not isinstance(credentials["data"], dict)
    ):
        yield "credentials must be null or {type: str, data: object}"


def _is_canonical_time(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return False
    return parsed.utcoffset() is not None and parsed.isoformat(timespec="microseconds") == value


def _case_problems(case: Any, job_ids: set[int]) -> Iterator[str]:
    if not isinstance(case, dict):
        yield "not an object"
        return
    if unknown := set(case) - CASE_KEYS:
        yield f"unknown keys {sorted(unknown)}"
    name = case.get("name")
    if not isinstance(name, str) or not name or any(ch.isspace() for ch in name):
        yield "name is missing, empty or contains whitespace"
    if "filters" not in case:
        yield "filters is missing"
    present = [key for key in EXPECT_KEYS if key in case]
    if len(present) != 1:
        yield f"needs exactly one of {', '.join(EXPECT_KEYS)}; has {present}"
    if "error" in case and case["error"] not in ERROR_NAMES:
        yield f"error must be one of {ERROR_NAMES}"
    if "expect_ids" in case and (
        not isinstance(case["expect_ids"], list)
        or not all(isinstance(i, int) and not isinstance(i, bool) for i in case["expect_ids"])
    ):
        yield "expect_ids must be a list of integers"
    if "expect_id" in case and (
        not isinstance(case["expect_id"], int) or isinstance(case["expect_id"], bool)
    ):
        yield "expect_id must be an integer"
    if not isinstance(case.get("store", True), bool):
        yield "store must be a boolean"
    if not isinstance(case.get("note", ""), str):
        yield "note must be a string"
    store_run = case.get("store", True)
    if "jobs" in case:
        if store_run:
            yield 'a case with its own jobs needs "store": false'
        if not isinstance(case["jobs"], list) or not all(isinstance(j, dict) for j in case["jobs"]):
            yield "jobs must be a list of objects"
        else:
            job_ids = {j["id"] for j in case["jobs"] if "id" in j}
    if store_run and (
        _has_datetime_tag(case.get("filters")) or _has_datetime_tag(case.get("options"))
    ):
        yield f"{DATETIME_TAG} in a case that runs through the store"
    wanted = case.get("expect_ids") if isinstance(case.get("expect_ids"), list) else []
    if "expect_id" in case:
        wanted = [case["expect_id"]]
    if missing := [i for i in wanted if i not in job_ids]:
        yield f"expects ids that no job has: {missing}"


def test_case_files_exist() -> None:
    assert FILES, f"no case files in {CASES_DIR}"


@pytest.mark.parametrize("stem", sorted(FILES))
def test_case_files_are_well_formed(stem: str) -> None:
    problems = list(_format_problems(FILES[stem]))
    assert not problems, f"{stem}.json:\n" + "\n".join(problems)
