"""Where the lifecycle's time goes: the raw lifecycle on variants of the schema and settings.

    python tools/bench_lifecycle_variants.py                    # 6,000 jobs, system temp folder
    python tools/bench_lifecycle_variants.py --dir /dev/shm     # the same on tmpfs: no disk

Each variant runs ``RawLifecycle`` (``bench_store.py``: the store's own
statements, no Python around them) on a file of its own, changed by a few
statements after the schema is made, or without some of its writes. All
variants run in turns of ``--block`` jobs, so a drifting machine weighs on
each alike, and each is printed as jobs/s and as its time against the
store's own schema and settings, measured in the same turns.
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench_store import RawLifecycle, take_turns

from jobstore.schema import apply_migrations


def _secondary_indexes() -> tuple[str, ...]:
    """The schema's indexes on jobs but the one retention walks, read from the schema itself."""
    conn = sqlite3.connect(":memory:", isolation_level=None)
    apply_migrations(conn)
    names = conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'jobs' "
        "AND sql IS NOT NULL AND name != 'jobs_time_finished' ORDER BY name"
    ).fetchall()
    conn.close()
    return tuple(name for (name,) in names)


SECONDARY_INDEXES = _secondary_indexes()


@dataclass(frozen=True)
class Variant:
    """How a variant differs from the store: statements run after the schema, writes left out."""

    statements: tuple[str, ...] = ()
    retention: bool = True
    progress_writes: bool = True


VARIANTS: dict[str, Variant] = {
    "the store's schema and settings": Variant(),
    "without the secondary indexes": Variant(
        tuple(f"DROP INDEX {name}" for name in SECONDARY_INDEXES)
    ),
    "time_started, progress_percent indexes partial": Variant(
        (
            "DROP INDEX jobs_time_started",
            "CREATE INDEX jobs_time_started ON jobs (time_started) WHERE time_started IS NOT NULL",
            "DROP INDEX jobs_progress_percent",
            "CREATE INDEX jobs_progress_percent ON jobs (progress_percent) "
            "WHERE progress_percent IS NOT NULL",
        )
    ),
    "without the method index": Variant(("DROP INDEX jobs_method",)),
    "synchronous=OFF (no fsync at checkpoints)": Variant(("PRAGMA synchronous = OFF",)),
    "a checkpoint every 65,536 pages": Variant(("PRAGMA wal_autocheckpoint = 65536",)),
    "without retention deletes": Variant(retention=False),
    "without the three progress writes": Variant(progress_writes=False),
}
_LEVERS = [VARIANTS[name] for name in (
    "time_started, progress_percent indexes partial", "without the method index",
    "synchronous=OFF (no fsync at checkpoints)")]  # fmt: skip
# Levers together: the most they give, keeping the indexes the queries use, then not.
VARIANTS["partial indexes, no method index, fsync, retention or progress"] = Variant(
    tuple(statement for lever in _LEVERS for statement in lever.statements),
    retention=False,
    progress_writes=False,
)
VARIANTS["no secondary indexes, retention, progress or fsync"] = Variant(
    (*VARIANTS["without the secondary indexes"].statements, "PRAGMA synchronous = OFF"),
    retention=False,
    progress_writes=False,
)


def bench_variants(
    folder: Path, n: int, max_finished: int, block: int, names: list[str]
) -> list[float]:
    """Seconds each named variant spent on ``n`` jobs, run in turns of ``block`` jobs."""
    runners: list[RawLifecycle] = []
    try:
        for index, name in enumerate(names):
            variant = VARIANTS[name]
            runner = RawLifecycle(
                folder / f"variant-{index}.db",
                max_finished if variant.retention else n + 1,
                progress_writes=variant.progress_writes,
            )
            runners.append(runner)
            for statement in variant.statements:
                runner.conn.execute(statement)
    except BaseException:
        # take_turns closes the runners it is given; these never got that far.
        for runner in runners:
            runner.close()
        raise
    return take_turns(runners, n, block)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", "--jobs", type=int, default=6000, help="jobs per variant")
    parser.add_argument("--max-finished", type=int, default=1000, help="retention")
    parser.add_argument("--block", type=int, default=250, help="jobs per turn of each variant")
    parser.add_argument("--dir", type=Path, help="folder for the files (default: system temp)")
    parser.add_argument("--only", action="append", metavar="TEXT",
                        help="only the variants whose name contains TEXT (repeatable)")  # fmt: skip
    args = parser.parse_args(argv)
    if args.jobs < 1 or args.block < 1:
        parser.error("--jobs and --block must be at least 1")
    base, *others = VARIANTS
    names = [base] + [n for n in others if not args.only or any(t in n for t in args.only)]
    with tempfile.TemporaryDirectory(prefix="jobstore-variants-", dir=args.dir) as folder:
        spent = bench_variants(Path(folder), args.jobs, args.max_finished, args.block, names)
    print(f"N = {args.jobs} per variant, turns of {args.block}; folder: {args.dir or 'temp'}")
    for name, seconds in zip(names, spent, strict=True):
        print(
            f"{name:62} {args.jobs / seconds:8,.0f} jobs/s  "
            f"{seconds / spent[0]:5.2f}x the store's time"
        )


if __name__ == "__main__":
    main()
