"""``jobstore import`` and ``jobstore export``: histories in and out of a store."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from ..store import JobStore
from .app import CLIError, cli, existing_db, open_store
from .history import load, read_history, write_history
from .output import stderr

__all__ = ["export", "import_history"]


@cli.command("import")
@click.argument("db", type=click.Path(dir_okay=False))
@click.argument("file", type=click.Path(exists=True, dir_okay=False, readable=True))
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=5000,
    show_default=True,
    help="Rows per INSERT statement. The import stays one transaction whatever the size.",
)
def import_history(db: str, file: str, batch_size: int) -> None:
    """Load the jobs of FILE into the store DB (created if missing).

    FILE is a JSON list of jobs or a .jsonl file with one job per line, in the
    JSON form of get_jobs (what `jobstore export` writes); a job keeps its id
    if it has one, and fields left out take a new job's defaults. The import
    is all or nothing: one job that does not fit the schema, or an id already
    in the store, stops it with an error naming the job and the field, and
    nothing is written (a DB the import created is removed again).
    """
    history = read_history(file)
    new = not os.path.exists(db)
    try:
        with open_store(db, create=True) as store:
            ids = load(store, history, batch_size=batch_size)
    except BaseException:
        if new:
            _remove_if_empty(db)
        raise
    stderr().print(f"imported {len(ids)} jobs into {db}", highlight=False)


@cli.command()
@existing_db
@click.option(
    "--out",
    type=click.Path(dir_okay=False, writable=True),
    help="File to write (JSON list, or JSON lines if it ends in .jsonl); default stdout.",
)
def export(db: str, out: str | None) -> None:
    """Write every job of DB as JSON that `jobstore import` reads back.

    The jobs come from get_jobs as an internal caller (raw arguments and
    results, every owner), in id order, as a JSON list with one job per line;
    with --out ending in .jsonl, as JSON lines. Importing the file into an
    empty store gives the same jobs with the same ids.
    """
    with open_store(db, create=False) as store:
        jobs = store.get_jobs()
    if not isinstance(jobs, list):  # get_jobs without options always gives a list
        raise CLIError(f"get_jobs returned {type(jobs).__name__}, not a list of jobs")
    if out is None:
        write_history(jobs, sys.stdout)
        return
    try:
        write_history(jobs, out)
    except OSError as exc:
        raise CLIError(f"cannot write {out}: {exc}") from None
    stderr().print(f"exported {len(jobs)} jobs to {out}", highlight=False)


def _remove_if_empty(db: str) -> None:
    """Delete the store a failed import created, unless another writer filled it meanwhile."""
    try:
        with JobStore(db, create=False) as store:
            if store.get_jobs(options={"count": True}) != 0:
                return
    except Exception:
        return  # not ours to judge: leave the file as it is
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(db + suffix).unlink(missing_ok=True)
