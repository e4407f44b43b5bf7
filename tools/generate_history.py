"""Generate a deterministic, realistic history of jobs (JSON form of ``job.schema.json``).

The jobs imitate a storage appliance's middleware: scrubs, replications, cloud
syncs, updates, snapshots, disk wipes, certificates..., started by the system
(``credentials`` null) or by alice, bob, carol and root, mostly successful,
some failed (with an error, a traceback and ``exc_info``), some aborted and, at
the recent end, a few still WAITING or RUNNING. Some arguments and results
hold secrets (``password``, ``api_key``, ``access_token``...) so that
redaction has something to do.

The same ``--count``, ``--seed`` and ``--start-date`` always give the same
bytes. As a script::

    python tools/generate_history.py --count 600 --seed 7 --out history.json

As a module (``tools/`` is not a package; load it from its path)::

    spec = importlib.util.spec_from_file_location("generate_history", path)
    ...
    jobs = module.generate(600, seed=7)
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from errno import EBUSY, ECONNREFUSED, EEXIST, EFAULT, EINVAL, ENOENT, ENOSPC, ETIMEDOUT, errorcode
from pathlib import Path
from typing import Any

__all__ = ["DEFAULT_START", "METHODS", "MethodSpec", "generate", "main", "write"]

#: Where a history starts unless told otherwise: fixed, so output never depends on today.
DEFAULT_START = datetime(2026, 11, 1, tzinfo=UTC)

USERS = ("alice", "bob", "carol", "root")
POOLS = ("tank", "backup", "fast")
DATASETS = (
    "tank/home",
    "tank/home/alice",
    "tank/media",
    "tank/vm",
    "tank/db/postgres",
    "fast/scratch",
    "backup/archive",
)
DISKS = ("sda", "sdb", "sdc", "sdd", "sde", "nvme0n1", "nvme1n1")
HOSTS = ("10.0.0.5", "10.0.0.17", "backup.example.net", "dr-site.example.org")
BUCKETS = ("nas-offsite", "photos-archive", "corp-backups")

Args = list[Any]
Maker = Callable[[random.Random, datetime], tuple[Args, Any]]


@dataclass(frozen=True)
class Failure:
    """One way a method fails: its message, exception class and errno."""

    message: str
    exc_type: str
    errno: int | None


@dataclass(frozen=True)
class MethodSpec:
    """How one method's jobs look: arguments and result, duration, who runs them."""

    name: str
    weight: int
    make: Maker
    steps: tuple[str, ...]
    failures: tuple[Failure, ...]
    seconds: tuple[int, int]  # typical duration range
    system_share: float  # how often the system, not a user, starts it
    abortable: bool = False
    logs: bool = False  # keeps a log file (logs_path/logs_excerpt)
    describe: Callable[[Args], str | None] = lambda args: None


def _hex(rng: random.Random, length: int) -> str:
    return "".join(rng.choice("0123456789abcdef") for _ in range(length))


def _token(rng: random.Random, length: int = 32) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(rng.choice(alphabet) for _ in range(length))


def _size(rng: random.Random, low: int, high: int) -> int:
    """A byte count spread over orders of magnitude, as real sizes are."""
    return int(10 ** rng.uniform(low, high))


def _snapshot_name(prefix: str, when: datetime) -> str:
    """A periodic-snapshot style name: ``auto-2026-11-28_10-00``."""
    return f"{prefix}-{when:%Y-%m-%d_%H-%M}"


# -- arguments and results, one maker per method ------------------------------


def _scrub(rng: random.Random, when: datetime) -> tuple[Args, Any]:
    return [rng.choice(POOLS), "START"], None


def _replication_run(rng: random.Random, when: datetime) -> tuple[Args, Any]:
    hours = sorted(rng.sample(range(1, 48), rng.randint(1, 4)), reverse=True)
    snapshots = [_snapshot_name("auto", when - timedelta(hours=hour)) for hour in hours]
    return [rng.randint(1, 12)], {
        "snapshots_sent": snapshots,
        "bytes_sent": _size(rng, 5, 11),
        "datasets": sorted(rng.sample(DATASETS, rng.randint(1, 3))),
    }


def _replication_onetime(rng: random.Random, when: datetime) -> tuple[Args, Any]:
    source = rng.choice(DATASETS)
    return [
        {
            "direction": "PUSH",
            "transport": "SSH",
            "ssh_credentials": {
                "host": rng.choice(HOSTS),
                "port": 22,
                "username": "root",
                "ssh_private_key": "-----BEGIN OPENSSH PRIVATE KEY-----\n"
                + _token(rng, 64)
                + "\n-----END OPENSSH PRIVATE KEY-----",
            },
            "source_datasets": [source],
            "target_dataset": "backup/" + source.replace("/", "-"),
            "recursive": rng.random() < 0.5,
            "retention_policy": "SOURCE",
        }
    ], {"snapshots_sent": rng.randint(1, 30), "bytes_sent": _size(rng, 6, 11)}


def _cloudsync_sync(rng: random.Random, when: datetime) -> tuple[Args, Any]:
    files = rng.randint(0, 50_000)
    return [rng.randint(1, 8), {"dry_run": rng.random() < 0.1}], {
        "files_transferred": files,
        "bytes_transferred": _size(rng, 3, 10) if files else 0,
        "errors": [],
        "checks": rng.randint(files, files * 2 + 10),
    }


def _cloudsync_onetime(rng: random.Random, when: datetime) -> tuple[Args, Any]:
    return [
        {
            "description": "one-off copy to B2",
            "path": "/mnt/" + rng.choice(DATASETS),
            "credentials": {
                "provider": "B2",
                "attributes": {"account": _hex(rng, 12), "api_key": _token(rng, 31)},
            },
            "attributes": {"bucket": rng.choice(BUCKETS), "folder": "/nas"},
            "direction": "PUSH",
            "transfer_mode": "COPY",
            "encryption": True,
            "encryption_password": _token(rng, 20),
        }
    ], {"files_transferred": rng.randint(1, 900), "bytes_transferred": _size(rng, 4, 9)}


def _credentials_verify(rng: random.Random, when: datetime) -> tuple[Args, Any]:
    return [
        {
            "provider": {
                "type": "DROPBOX",
                "client_id": _token(rng, 15),
                "client_secret": _token(rng, 15),
                "token": json.dumps({"refresh_token": _token(rng, 40)}),
            }
        }
    ], {
        "valid": True,
        "access_token": "sl." + _token(rng, 48),
        "client_secret": _token(rng, 15),
        "expires_in": 14400,
    }


def _update_download(rng: random.Random, when: datetime) -> tuple[Args, Any]:
    return [], rng.random() < 0.7


def _update_update(rng: random.Random, when: datetime) -> tuple[Args, Any]:
    return [{"train": "TrueNAS-26.04", "reboot": rng.random() < 0.3}], True


def _snapshot_task_run(rng: random.Random, when: datetime) -> tuple[Args, Any]:
    return [rng.randint(1, 20)], None


def _zfs_snapshot_create(rng: random.Random, when: datetime) -> tuple[Args, Any]:
    dataset = rng.choice(DATASETS)
    name = _snapshot_name("manual", when)
    used = rng.randint(0, 10**9)
    return [{"dataset": dataset, "name": name, "recursive": rng.random() < 0.3}], {
        "id": f"{dataset}@{name}",
        "name": f"{dataset}@{name}",
        "pool": dataset.split("/")[0],
        "type": "SNAPSHOT",
        "properties": {
            "used": {"value": str(used), "rawvalue": str(used), "parsed": used},
            "createtxg": {"parsed": rng.randint(10_000, 9_000_000)},
        },
        "holds": {},
    }


def _disk_wipe(rng: random.Random, when: datetime) -> tuple[Args, Any]:
    return [rng.choice(DISKS), rng.choice(["QUICK", "QUICK", "FULL", "FULL_RANDOM"])], None


def _certificate_create(rng: random.Random, when: datetime) -> tuple[Args, Any]:
    name = rng.choice(["nas-web", "s3-endpoint", "ldap-client"]) + f"-{rng.randint(1, 99)}"
    domain = f"{name}.example.net"
    return [
        {
            "name": name,
            "create_type": "CERTIFICATE_CREATE_ACME",
            "csr_id": rng.randint(1, 5),
            "acme_directory_uri": "https://acme-v02.api.letsencrypt.org/directory",
            "tos": True,
            "dns_mapping": {domain: rng.randint(1, 3)},
            "renew_days": 10,
        }
    ], {
        "id": rng.randint(2, 40),
        "name": name,
        "common": domain,
        "san": [f"DNS:{domain}"],
        "key_length": rng.choice([2048, 4096]),
        "private_key": "-----BEGIN PRIVATE KEY-----\n" + _token(rng, 48)
        + "\n-----END PRIVATE KEY-----",
        "until": "Mon Feb 26 10:00:00 2027",
    }


def _pool_create(rng: random.Random, when: datetime) -> tuple[Args, Any]:
    disks = sorted(rng.sample(DISKS, 2))
    name = rng.choice(["tank2", "archive", "scratch"])
    return [
        {
            "name": name,
            "encryption": True,
            "encryption_options": {"algorithm": "AES-256-GCM", "passphrase": _token(rng, 24)},
            "topology": {"data": [{"type": "MIRROR", "disks": disks}], "cache": [], "log": []},
        }
    ], {"id": rng.randint(2, 9), "name": name, "status": "ONLINE", "healthy": True}


def _directory_update(rng: random.Random, when: datetime) -> tuple[Args, Any]:
    return [
        {
            "enable": True,
            "service_type": "ACTIVEDIRECTORY",
            "configuration": {"domain": "CORP.EXAMPLE.COM"},
            "credential": {
                "credential_type": "KERBEROS_USER",
                "username": "Administrator",
                "password": _token(rng, 16),
            },
        }
    ], {"status": "HEALTHY", "job_id": None}


def _catalog_sync(rng: random.Random, when: datetime) -> tuple[Args, Any]:
    return [], None


def _config_save(rng: random.Random, when: datetime) -> tuple[Args, Any]:
    return [{"secretseed": rng.random() < 0.5, "root_authorized_keys": False}], None


METHODS: tuple[MethodSpec, ...] = (
    MethodSpec(
        "pool.dataset.snapshot_task.run", 30, _snapshot_task_run,
        ("Creating snapshots", "Pruning old snapshots"),
        (Failure("Dataset tank/vm is busy", "CallError", EBUSY),),
        (1, 40), 0.95,
    ),
    MethodSpec(
        "zfs.snapshot.create", 14, _zfs_snapshot_create, ("Creating snapshot",),
        (Failure("Snapshot already exists", "ValidationErrors", EEXIST),),
        (1, 5), 0.5,
    ),
    MethodSpec(
        "replication.run", 16, _replication_run,
        ("Sending snapshots", "Receiving", "Replicated"),
        (
            Failure("ssh: connect to host 10.0.0.5 port 22: Connection refused",
                    "CallError", ECONNREFUSED),
            Failure("cannot receive incremental stream: destination backup/tank-home has "
                    "been modified since most recent snapshot", "CallError", EFAULT),
        ),
        (20, 7200), 0.85, abortable=True,
        describe=lambda args: f"Replication task {args[0]}",
    ),
    MethodSpec(
        "replication.run_onetime", 3, _replication_onetime, ("Sending snapshots", "Replicated"),
        (Failure("Permission denied (publickey)", "CallError", EFAULT),),
        (60, 3600), 0.0, abortable=True,
    ),
    MethodSpec(
        "cloudsync.sync", 12, _cloudsync_sync, ("Starting", "Transferring", "Checking"),
        (
            Failure("rclone failed with exit code 7: 403 Forbidden", "CallError", EFAULT),
            Failure("Timed out waiting for the remote", "CallError", ETIMEDOUT),
        ),
        (30, 5400), 0.8, abortable=True, logs=True,
        describe=lambda args: f"Cloud sync task {args[0]}",
    ),
    MethodSpec(
        "cloudsync.sync_onetime", 2, _cloudsync_onetime, ("Transferring",),
        (Failure("Bucket does not exist", "CallError", ENOENT),),
        (10, 900), 0.0, abortable=True, logs=True,
    ),
    MethodSpec(
        "cloudsync.credentials.verify", 3, _credentials_verify, ("Verifying",),
        (Failure("invalid_grant: refresh token is malformed", "CallError", EINVAL),),
        (1, 8), 0.0,
    ),
    MethodSpec(
        "pool.scrub.scrub", 8, _scrub, ("Scrubbing", "Scrub finished"),
        (Failure("Pool backup is not healthy: 2 checksum errors", "CallError", EFAULT),),
        (600, 20000), 0.9, abortable=True,
        describe=lambda args: f"Scrub of pool {args[0]}",
    ),
    MethodSpec(
        "update.download", 5, _update_download, ("Downloading update", "Verifying checksum"),
        (Failure("Update server could not be reached", "CallError", ETIMEDOUT),),
        (30, 900), 0.7, abortable=True,
    ),
    MethodSpec(
        "update.update", 2, _update_update, ("Downloading", "Installing", "Done"),
        (Failure("Not enough free space on boot pool", "CallError", ENOSPC),),
        (300, 1800), 0.0, logs=True,
    ),
    MethodSpec(
        "disk.wipe", 3, _disk_wipe, ("Wiping partitions", "Writing zeros"),
        (Failure("Disk sdc is in use by pool tank", "CallError", EBUSY),),
        (5, 9000), 0.0, abortable=True,
    ),
    MethodSpec(
        "certificate.create", 2, _certificate_create,
        ("Validating", "Creating ACME order", "Completing challenges"),
        (Failure("acme:error:dns: DNS problem: NXDOMAIN looking up TXT", "CallError", EFAULT),),
        (20, 240), 0.0,
    ),
    MethodSpec(
        "pool.create", 1, _pool_create, ("Formatting disks", "Creating ZFS pool"),
        (Failure("Disks have duplicate serial numbers", "ValidationErrors", EINVAL),),
        (10, 120), 0.0,
    ),
    MethodSpec(
        "directoryservices.update", 1, _directory_update, ("Joining domain",),
        (Failure("KDC has no support for encryption type", "KRB5Error", None),),
        (5, 90), 0.0,
    ),
    MethodSpec(
        "catalog.sync", 4, _catalog_sync, ("Syncing catalog", "Catalog synced"),
        (Failure("Failed to clone catalog repository", "CallError", EFAULT),),
        (5, 300), 1.0,
    ),
    MethodSpec(
        "config.save", 2, _config_save, ("Packing configuration",),
        (Failure("Unable to read the configuration database", "CallError", EFAULT),),
        (1, 10), 0.0,
    ),
)

_WEIGHTS = [spec.weight for spec in METHODS]
# Finished states: mostly SUCCESS; FAILED and ABORTED in realistic proportion.
_FINISHED = (("SUCCESS", 82), ("FAILED", 13), ("ABORTED", 5))


def _timestamp(value: datetime) -> str:
    """The fixed-width stored form: ``2026-11-28T10:10:50.123456+00:00``."""
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def _errno_prefix(failure: Failure) -> str:
    """TrueNAS's message prefix: ``[ETIMEDOUT] `` for errno 110."""
    return f"[{errorcode[failure.errno]}] " if failure.errno is not None else ""


def _traceback(spec: MethodSpec, failure: Failure) -> str:
    service, _, verb = spec.name.rpartition(".")
    module = service.replace(".", "_")
    prefix = _errno_prefix(failure)
    return (
        "Traceback (most recent call last):\n"
        '  File "/usr/lib/python3/dist-packages/middlewared/job.py", line 515, in run\n'
        "    await self.future\n"
        '  File "/usr/lib/python3/dist-packages/middlewared/job.py", line 560, in __run_body\n'
        "    rv = await self.method(*args)\n"
        f'  File "/usr/lib/python3/dist-packages/middlewared/plugins/{module}.py", '
        f"line 212, in {verb}\n"
        f"    raise {failure.exc_type}({failure.message!r})\n"
        f"middlewared.service_exception.{failure.exc_type}: {prefix}{failure.message}\n"
    )


def _owner(rng: random.Random, spec: MethodSpec) -> dict[str, Any] | None:
    if rng.random() < spec.system_share:
        return None
    # root and alice do most of the administration; bob and carol less.
    user = rng.choices(USERS, weights=(3, 4, 2, 2))[0]
    return {"type": "LOGIN_PASSWORD", "data": {"username": user}}


def _state(rng: random.Random, recent: bool, last: bool) -> str:
    if last:  # the newest job is the one still in progress
        return "RUNNING"
    if recent and rng.random() < 0.5:
        return rng.choice(("WAITING", "RUNNING"))
    names, weights = zip(*_FINISHED, strict=True)
    return rng.choices(names, weights=weights)[0]


def _job(
    rng: random.Random, job_id: int, created: datetime, recent: bool, last: bool
) -> dict[str, Any]:
    spec = rng.choices(METHODS, weights=_WEIGHTS)[0]
    arguments, result = spec.make(rng, created)
    state = _state(rng, recent, last)
    never_started = state == "WAITING" or (state != "RUNNING" and rng.random() < 0.03)
    # Jobs wait a little for their turn, then run for a method-typical time.
    started = None if never_started else created + timedelta(seconds=rng.uniform(0, 3))
    duration = timedelta(seconds=rng.uniform(*spec.seconds))
    if state in ("FAILED", "ABORTED"):
        duration *= rng.uniform(0.05, 0.9)
    finished = None
    if state in ("SUCCESS", "FAILED", "ABORTED"):
        finished = (started or created) + (duration if started else timedelta(seconds=1))

    percent: int | None = 0
    description: str | None = ""
    extra: Any = None
    if state == "SUCCESS":
        percent, description = 100, spec.steps[-1]
    elif started is not None:
        percent = rng.randint(1, 99) if state != "WAITING" else 0
        description = spec.steps[min(len(spec.steps) - 1, percent * len(spec.steps) // 100)]
    if spec.name == "update.download" and started is not None:
        total = _size(rng, 8, 9.3)
        extra = {"downloaded": total * (percent or 0) // 100, "total": total}

    error = exception = exc_info = None
    if state == "FAILED":
        failure = rng.choice(spec.failures)
        prefix = _errno_prefix(failure)
        error = f"{prefix}{failure.message}"
        exception = _traceback(spec, failure)
        exc_info = {
            "repr": f"{failure.exc_type}({failure.message!r})",
            "type": failure.exc_type,
            "errno": failure.errno,
            "extra": None,
        }
    if state != "SUCCESS":
        result = None

    logs_path = logs_excerpt = None
    if spec.logs and started is not None:
        logs_path = f"/var/log/jobs/{job_id}.log"
        if finished is not None:
            logs_excerpt = f"{spec.steps[0]}\n{description}\n"

    return {
        "id": job_id,
        "message_ids": [],
        "method": spec.name,
        "arguments": arguments,
        # A few scheduled snapshot runs are fire-and-forget, like TrueNAS's own.
        "transient": spec.name == "pool.dataset.snapshot_task.run" and rng.random() < 0.05,
        "description": spec.describe(arguments),
        "abortable": spec.abortable,
        "logs_path": logs_path,
        "logs_excerpt": logs_excerpt,
        "progress": {"percent": percent, "description": description, "extra": extra},
        "result": result,
        "result_encoding_error": None,
        "error": error,
        "exception": exception,
        "exc_info": exc_info,
        "state": state,
        "time_started": None if started is None else _timestamp(started),
        "time_finished": None if finished is None else _timestamp(finished),
        "credentials": _owner(rng, spec),
    }


def _as_start(start: datetime | str | None) -> datetime:
    if start is None:
        return DEFAULT_START
    value = datetime.fromisoformat(start) if isinstance(start, str) else start
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def generate(
    count: int, seed: int = 0, start: datetime | str | None = None
) -> list[dict[str, Any]]:
    """``count`` jobs with ids 1..count, the same for the same ``seed`` and ``start``.

    >>> [job["id"] for job in generate(3, seed=1)]
    [1, 2, 3]
    """
    if count < 0:
        raise ValueError(f"count must be >= 0, not {count}")
    rng = random.Random(seed)
    # Jobs still WAITING or RUNNING sit at the recent end of the history.
    recent_from = count - max(3, count // 30)
    created = _as_start(start)
    jobs = []
    for job_id in range(1, count + 1):
        created += timedelta(seconds=rng.expovariate(1 / 1200))
        jobs.append(_job(rng, job_id, created, job_id > recent_from, job_id == count))
    return jobs


def write(jobs: list[dict[str, Any]], out: Path) -> None:
    """Write ``jobs`` as JSONL (``.jsonl``) or a JSON list with one job per line."""
    lines = [json.dumps(job, ensure_ascii=False) for job in jobs]
    if out.suffix == ".jsonl":
        text = "".join(line + "\n" for line in lines)
    else:
        # One job per line keeps the committed sample readable and its diffs small.
        text = "[\n" + ",\n".join(lines) + "\n]\n" if lines else "[]\n"
    out.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    """Command line: generate a history and write it to ``--out`` (or stdout)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=600, help="number of jobs (default 600)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--out", type=Path, help="output file, .json or .jsonl (default stdout)")
    parser.add_argument(
        "--start-date",
        default=DEFAULT_START.isoformat(),
        help=f"ISO-8601 time of the first job (default {DEFAULT_START.isoformat()})",
    )
    args = parser.parse_args(argv)
    if args.count < 0:
        parser.error("--count must be >= 0")
    try:
        start = _as_start(args.start_date)
    except ValueError:
        parser.error(f"--start-date is not an ISO-8601 date: {args.start_date!r}")
    if args.out is not None and args.out.suffix not in (".json", ".jsonl"):
        parser.error("--out must end in .json or .jsonl")
    jobs = generate(args.count, args.seed, start)
    if args.out is None:
        json.dump(jobs, sys.stdout, ensure_ascii=False, indent=1)
        sys.stdout.write("\n")
    else:
        write(jobs, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
