"""``append_log``: bytes, or text as UTF-8, appended to an unfinished job's log, or refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from jobstore import InvalidJob

from .oracle import BAD, MAYBE, OK, UNFINISHED, assert_same
from .values import FAST, Opaque, clean_text
from .world import (
    Outcome,
    Target,
    World,
    attempt,
    check_others_unchanged,
    expect,
    folder_for,
    resolve,
    targets,
    world,
)

# -- append_log -------------------------------------------------------------------------

log_data = st.one_of(
    st.binary(max_size=300),
    clean_text,
    st.sampled_from([b"", b"\x00\xff\xfe", b"x" * 100_000, "😀\n", "a\r\nb", "\x00"]),
    st.sampled_from([None, 5, ["a"], bytearray(b"x"), memoryview(b"x"), Opaque()]),
)


def check_appended(w: World, outcome: Outcome, target: Target, data: bytes | str) -> None:
    job_id = target.value
    assert outcome.old is not None and outcome.new is not None
    check_others_unchanged(outcome, job_id)
    path = Path(w.store.logs_dir) / f"{job_id}.log"  # README: <db>.logs/<id>.log
    assert outcome.new["logs_path"] == str(path)
    assert_same(outcome.new, {**outcome.old, "logs_path": str(path)}, "job after append_log")
    written = data.encode("utf-8", "surrogateescape") if isinstance(data, str) else data
    assert path.read_bytes() == outcome.before.logs.get(path.name, b"") + written


@FAST
@example(drawn="running", data="é\n\udcff", on_file=False)
@example(drawn="waiting", data=b"\x00\xff", on_file=True)
@example(drawn="success", data=b"late", on_file=False)
@given(drawn=targets, data=log_data, on_file=st.booleans())
def test_append_log_appends_or_refuses(
    tmp_path_factory: pytest.TempPathFactory, drawn: Any, data: Any, on_file: bool
) -> None:
    """bytes, or str written as UTF-8, appended while the job runs; refused once it finished."""
    verdict = OK if type(data) in (bytes, str) else MAYBE if isinstance(data, bytearray) else BAD
    with world(folder_for(tmp_path_factory, on_file)) as w:
        target = resolve(w, drawn)
        outcome = attempt(w, target, lambda: w.store.append_log(target.value, data))
        allowed = target.spec is not None and target.spec.state in UNFINISHED
        if expect(outcome, target, allowed, verdict):
            check_appended(w, outcome, target, bytes(data) if verdict is MAYBE else data)


@FAST
@example(data="\ud800")
@given(data=st.tuples(clean_text, st.integers(0xD800, 0xDFFF).map(chr), clean_text).map("".join))
def test_append_log_text_with_lone_surrogates(data: str) -> None:
    """README: no lone surrogate may break a write; either recorded (escaped) or InvalidJob."""
    with world(None) as w:
        target = resolve(w, "running")
        outcome = attempt(w, target, lambda: w.store.append_log(target.value, data))
        if outcome.error is None:
            assert outcome.new is not None and type(outcome.new["logs_path"]) is str
        else:
            assert isinstance(outcome.error, InvalidJob)
