"""``jobstore demo``: a store filled with the sample history, and a first query on it."""

from __future__ import annotations

import json
import os
import shlex
from typing import Any, cast

import click

from ..models import JobState
from ..store import JobStore
from .app import cli, open_store
from .history import load, sample_history
from .output import cell, jobs_table, mapping_table, stdout

__all__ = ["DEMO_FILTERS", "DEMO_OPTIONS", "STATES", "count_by_state", "demo"]

STATES: tuple[JobState, ...] = ("WAITING", "RUNNING", "SUCCESS", "FAILED", "ABORTED")

#: The query the demo shows: the 10 most recently finished FAILED jobs.
DEMO_FILTERS: list[Any] = [["state", "=", "FAILED"]]
DEMO_OPTIONS: dict[str, Any] = {
    "order_by": ["-time_finished"],
    "limit": 10,
    "select": [
        "id",
        "method",
        ["credentials.data.username", "owner"],
        "time_finished",
        "error",
    ],
}


def count_by_state(store: JobStore) -> dict[str, int]:
    """How many jobs each state has, one count query per state."""
    return {
        state: cast(int, store.get_jobs([["state", "=", state]], {"count": True}))
        for state in STATES
    }


@cli.command()
@click.option(
    "--db",
    type=click.Path(dir_okay=False),
    default="jobstore-demo.db",
    show_default=True,
    help="The SQLite file to use; created if missing, reused if it exists.",
)
def demo(db: str) -> None:
    """Load the sample history into a store and show a first query.

    Opens (or creates) the SQLite file DB; if it holds no jobs yet, loads the
    600-job sample history bundled with jobstore, with a progress bar. Then
    prints the 10 most recent FAILED jobs (as `jobstore query` would) and the
    number of jobs in each state. Running it again reuses the file and loads
    nothing.
    """
    console = stdout()
    with open_store(db, create=True) as store:
        before = store.get_jobs(options={"count": True})
        if before == 0:
            history = sample_history()
            loaded = len(load(store, history))
            note = f"loaded {loaded} jobs from {history.name}"
        else:
            note = f"it already holds {before} jobs, so nothing was loaded"
        failed = cast(list[dict[str, Any]], store.get_jobs(DEMO_FILTERS, DEMO_OPTIONS))
        counts = count_by_state(store)
    console.print(f"Using {os.path.abspath(db)}: {note}.", soft_wrap=True, highlight=False)
    console.print()
    for job in failed:
        job["owner"] = job.get("owner") or "(system)"
    console.print(jobs_table(failed, "The 10 most recent FAILED jobs", console.width))
    console.print()
    counts["total"] = sum(counts.values())
    console.print(mapping_table({k: cell(v) for k, v in counts.items()}, title="Jobs by state"))
    console.print()
    console.print("The same query from the command line:", highlight=False)
    console.print(
        "  jobstore query "
        + shlex.join(
            [
                db,
                "--filters",
                _compact(DEMO_FILTERS),
                "--options",
                _compact(DEMO_OPTIONS),
                "--format",
                "table",
            ]
        ),
        soft_wrap=True,
        highlight=False,
    )


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))
