"""``tools/generate_history.py``: valid, varied and deterministic job histories."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from jobstore.models import Job

from .tools import GENERATOR, ROOT, load_generator

SCRIPT = GENERATOR


@pytest.fixture(scope="module")
def gen() -> ModuleType:
    return load_generator()


def _secret_keys(value: Any) -> set[str]:
    if isinstance(value, dict):
        keys = {key for key in value if key.lower().endswith(("password", "secret", "token",
                                                               "private_key", "api_key",
                                                               "passphrase"))}
        return keys.union(*(_secret_keys(item) for item in value.values()))
    if isinstance(value, list):
        return set().union(*(_secret_keys(item) for item in value))
    return set()


@pytest.mark.parametrize("seed", [0, 1, 7, 2026])
def test_every_job_validates(gen: ModuleType, seed: int) -> None:
    jobs = gen.generate(2500, seed)
    for job in jobs:
        assert Job.model_validate(job).model_dump(mode="json") == job
    assert [job["id"] for job in jobs] == list(range(1, 2501))


def test_deterministic_per_seed(gen: ModuleType) -> None:
    assert gen.generate(300, 5) == gen.generate(300, 5)
    assert gen.generate(300, 5) != gen.generate(300, 6)
    # A longer history starts with the same jobs as a shorter one of the same seed
    # except for the recent, still unfinished tail.
    assert gen.generate(300, 5)[:200] == gen.generate(400, 5)[:200]


def test_realistic_mix(gen: ModuleType) -> None:
    jobs = gen.generate(1000, 3)
    states = Counter(job["state"] for job in jobs)
    assert states["SUCCESS"] > 700
    assert 60 < states["FAILED"] < 250
    assert states["ABORTED"] > 10
    assert 1 <= states["WAITING"] + states["RUNNING"] <= 40
    assert jobs[-1]["state"] == "RUNNING"
    owners = Counter(
        job["credentials"]["data"]["username"] if job["credentials"] else None for job in jobs
    )
    assert set(owners) == {None, "alice", "bob", "carol", "root"}
    assert all(
        job["credentials"] is None or job["credentials"]["type"] == "LOGIN_PASSWORD"
        for job in jobs
    )
    assert len({job["method"] for job in jobs}) >= 12
    assert {"pool.scrub.scrub", "replication.run", "cloudsync.sync", "update.download",
            "disk.wipe", "certificate.create", "zfs.snapshot.create"} <= {
        job["method"] for job in jobs}
    argument_secrets = set().union(*(_secret_keys(job["arguments"]) for job in jobs))
    assert {"password", "api_key", "ssh_private_key"} <= argument_secrets
    result_secrets = set().union(*(_secret_keys(job["result"]) for job in jobs))
    assert {"access_token", "client_secret"} <= result_secrets
    assert any(job["abortable"] for job in jobs) and not all(job["abortable"] for job in jobs)
    assert sum(job["transient"] for job in jobs) < 50


def test_job_shapes_follow_state(gen: ModuleType) -> None:
    for job in gen.generate(1500, 9):
        started, finished = job["time_started"], job["time_finished"]
        for stamp in (started, finished):
            assert stamp is None or (len(stamp) == 32 and stamp.endswith("+00:00"))
        if started and finished:
            assert started <= finished
        if job["state"] == "FAILED":
            assert job["error"] and job["exception"].startswith("Traceback")
            assert set(job["exc_info"]) == {"repr", "type", "errno", "extra"}
        else:
            assert job["error"] is job["exception"] is job["exc_info"] is None
        if job["state"] == "SUCCESS":
            assert job["progress"]["percent"] == 100 and finished
        if job["state"] == "WAITING":
            assert started is None and finished is None
        if job["state"] == "RUNNING":
            assert started and finished is None
        if job["state"] != "SUCCESS":
            assert job["result"] is None
        assert job["message_ids"] == []


def test_start_date(gen: ModuleType) -> None:
    jobs = gen.generate(50, 1, "2025-01-02T03:04:05+02:00")
    first = min(job["time_started"] or job["time_finished"] for job in jobs[:5])
    assert first.startswith("2025-01-02T01:")
    assert gen.generate(50, 1, None) == gen.generate(50, 1, gen.DEFAULT_START)


def test_script_writes_json_and_jsonl(gen: ModuleType, tmp_path: Path) -> None:
    for name in ("h.json", "h.jsonl"):
        subprocess.run(
            [sys.executable, str(SCRIPT), "--count", "40", "--seed", "4",
             "--start-date", "2026-01-01", "--out", str(tmp_path / name)],
            check=True,
        )
    expected = gen.generate(40, 4, "2026-01-01")
    assert json.loads((tmp_path / "h.json").read_text()) == expected
    lines = (tmp_path / "h.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == expected


def test_script_rejects_bad_arguments(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(tmp_path / "h.txt")],
        capture_output=True, text=True,
    )
    assert result.returncode == 2 and ".json or .jsonl" in result.stderr


def test_bundled_sample_is_the_documented_command(gen: ModuleType, tmp_path: Path) -> None:
    """fixtures/sample/history.json is exactly what its README's command makes."""
    out = tmp_path / "history.json"
    gen.write(gen.generate(600, 2026), out)
    assert out.read_bytes() == (ROOT / "fixtures" / "sample" / "history.json").read_bytes()
