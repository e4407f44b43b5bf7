"""Job log files: appending, the excerpt kept on finish, and where files live."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest

from jobstore import IllegalTransition, JobNotFound
from jobstore.logs import EXCERPT_LINE_BYTES, excerpt_text
from jobstore.store import JobStore


def _lines(count: int) -> str:
    return "".join(f"line {i}\n" for i in range(1, count + 1))


def test_log_file_is_named_from_the_id_beside_the_database(
    store: JobStore, store_path: Path
) -> None:
    job_id = store.create("pool.scrub", ["../../etc/passwd"])
    store.append_log(job_id, "hello\n")
    store.append_log(job_id, b"world\n")
    path = Path(store.get_job(job_id)["logs_path"])
    assert path == Path(f"{store_path}.logs") / f"{job_id}.log"
    assert path.read_bytes() == b"hello\nworld\n"


@pytest.mark.parametrize("count", [0, 1, 19, 20])
def test_short_log_is_kept_whole(store: JobStore, count: int) -> None:
    job_id = store.create("m")
    store.start(job_id)
    store.append_log(job_id, _lines(count))
    store.succeed(job_id)
    expected = "\n".join(f"line {i}" for i in range(1, count + 1))
    assert store.get_job(job_id)["logs_excerpt"] == expected


@pytest.mark.parametrize("count", [21, 25, 1000])
def test_long_log_keeps_first_and_last_ten_lines(store: JobStore, count: int) -> None:
    job_id = store.create("m")
    store.start(job_id)
    for start in range(0, count, 7):  # in several appends, split mid-way
        store.append_log(job_id, _lines(count)[start * 8 : (start + 7) * 8])
    store.append_log(job_id, _lines(count)[((count + 6) // 7) * 7 * 8 :])
    store.fail(job_id, "boom")
    lines = store.get_job(job_id)["logs_excerpt"].split("\n")
    assert lines[:10] == [f"line {i}" for i in range(1, 11)]
    assert lines[10] == f"... {count - 20} more lines ..."
    assert lines[11:] == [f"line {i}" for i in range(count - 9, count + 1)]


def test_excerpt_decodes_invalid_utf8_with_replacement(store: JobStore) -> None:
    job_id = store.create("m")
    store.start(job_id)
    store.append_log(job_id, b"caf\xc3\xa9 \xff\r\nend")
    store.succeed(job_id)
    assert store.get_job(job_id)["logs_excerpt"] == "café \ufffd\nend"


def test_job_without_log_has_no_excerpt(store: JobStore) -> None:
    job_id = store.create("m")
    store.start(job_id)
    store.succeed(job_id)
    job = store.get_job(job_id)
    assert job["logs_path"] is None and job["logs_excerpt"] is None


def test_finished_job_log_is_closed(store: JobStore) -> None:
    job_id = store.create("m")
    store.append_log(job_id, "before\n")  # a WAITING job may log
    store.abort(job_id)
    with pytest.raises(IllegalTransition, match=r"finished|ABORTED"):
        store.append_log(job_id, "after\n")
    assert Path(store.get_job(job_id)["logs_path"]).read_text() == "before\n"
    with pytest.raises(JobNotFound):
        store.append_log(12345, "x")


def test_memory_store_logs_in_a_temporary_folder(make_store) -> None:  # type: ignore[no-untyped-def]
    store = make_store(":memory:")
    job_id = store.create("m")
    store.append_log(job_id, "x\n")
    folder = store.logs_dir
    assert Path(store.get_job(job_id)["logs_path"]).parent == folder
    store.close()
    assert not folder.exists()


def test_logs_dir_may_be_chosen(make_store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    store = make_store(tmp_path / "a.db", logs_dir=tmp_path / "elsewhere")
    job_id = store.create("m")
    store.append_log(job_id, "x")
    assert (tmp_path / "elsewhere" / f"{job_id}.log").read_text() == "x"


def test_excerpt_text_matches_the_file_rules() -> None:
    assert excerpt_text("") == ""
    assert excerpt_text("a\nb") == "a\nb"
    assert excerpt_text(_lines(22)).split("\n")[10] == "... 2 more lines ..."


def test_an_unreadable_log_does_not_keep_the_job_from_finishing(
    store: JobStore, caplog: pytest.LogCaptureFixture
) -> None:
    job_id = store.create("m")
    store.start(job_id)
    store.append_log(job_id, "line\n")
    log = store.logs_dir / f"{job_id}.log"
    log.unlink()
    log.mkdir()  # reading it now fails with IsADirectoryError
    store.succeed(job_id)
    job = store.get_job(job_id)
    assert (job["state"], job["logs_excerpt"]) == ("SUCCESS", None)
    assert f"could not read the log of job {job_id}" in caplog.text


@pytest.mark.parametrize(
    ("line", "kept"),
    [
        (b"x" * EXCERPT_LINE_BYTES + b"\n", "x" * EXCERPT_LINE_BYTES),
        (b"x" * (EXCERPT_LINE_BYTES + 1) + b"\n", "x" * EXCERPT_LINE_BYTES + "... (1 more byte)"),
        (b"y" * (EXCERPT_LINE_BYTES + 70_000) + b"\r\n",
         "y" * EXCERPT_LINE_BYTES + "... (70000 more bytes)"),
    ],
    ids=["at-the-cap", "one-over", "long-crlf"],
)  # fmt: skip
def test_a_long_line_is_cut_in_the_excerpt(line: bytes, kept: str) -> None:
    assert excerpt_text(b"first\n" + line + b"last\n") == f"first\n{kept}\nlast"
    many = b"".join(b"%d\n" % i for i in range(30))
    assert excerpt_text(line + many).split("\n")[0] == kept  # the head
    assert excerpt_text(many + line).split("\n")[-1] == kept  # the tail
    unterminated = line.rstrip(b"\r\n")
    assert excerpt_text(b"first\n" + unterminated) == f"first\n{kept}"


def test_the_excerpt_of_a_huge_line_is_read_in_bounded_memory(store: JobStore) -> None:
    """A runaway job writing 64 MiB without a newline: finishing it stays cheap."""
    job_id = store.create("m")
    store.start(job_id)
    store.append_log(job_id, b"start\n")
    with open(store.logs_dir / f"{job_id}.log", "ab") as log:
        for _ in range(64):
            log.write(b"\xff" * (1 << 20))
    tracemalloc.start()
    try:
        store.succeed(job_id)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20
    excerpt = store.get_job(job_id)["logs_excerpt"]
    assert excerpt.endswith(f"... ({(64 << 20) - EXCERPT_LINE_BYTES} more bytes)")
    assert excerpt.startswith("start\n\ufffd")


def test_any_lone_surrogate_in_log_text_is_written(store: JobStore) -> None:
    """surrogateescape gives back a subprocess's raw bytes; other surrogates become escapes."""
    job_id = store.create("m")
    store.start(job_id)
    store.append_log(job_id, b"raw \xff\n".decode("utf-8", "surrogateescape"))
    store.append_log(job_id, "odd \ud800\n")
    assert (store.logs_dir / f"{job_id}.log").read_bytes() == b"raw \xff\nodd \\ud800\n"


def test_a_new_job_does_not_continue_a_stale_file_at_its_log_path(
    store: JobStore, store_path: Path
) -> None:
    # Left by a deleted database whose job had the same id.
    stale = Path(f"{store_path}.logs") / "1.log"
    stale.parent.mkdir(exist_ok=True)
    stale.write_bytes(b"someone else's secret output\n")
    job_id = store.create("m")
    assert job_id == 1
    store.start(job_id)
    store.append_log(job_id, b"mine\n")
    store.append_log(job_id, b"mine too\n")
    store.succeed(job_id)
    assert stale.read_bytes() == b"mine\nmine too\n"
    assert store.get_job(job_id)["logs_excerpt"] == "mine\nmine too"


def test_an_imported_logs_path_elsewhere_is_never_read_and_is_replaced_on_append(
    store: JobStore, tmp_path: Path
) -> None:
    foreign = tmp_path / "foreign.log"
    foreign.write_bytes(b"not this job's\n")
    quiet, appended = store.insert_many(
        [
            {"method": "m", "state": "RUNNING", "logs_path": str(foreign), "logs_excerpt": "old"},
            {"method": "m", "state": "RUNNING", "logs_path": str(foreign)},
        ]
    )
    store.append_log(appended, b"appended\n")
    store.succeed(quiet)
    store.succeed(appended)
    assert store.get_job(quiet)["logs_path"] == str(foreign)
    assert store.get_job(quiet)["logs_excerpt"] == "old"
    own = store.get_job(appended)
    assert own["logs_path"] == str(store.logs_dir / f"{appended}.log")
    assert own["logs_excerpt"] == "appended"
    assert foreign.read_bytes() == b"not this job's\n"
