"""``jobstore recover`` and ``jobstore stats``: looking after a store."""

from __future__ import annotations

from collections import Counter
from typing import Any, cast

import click
from rich.table import Table

from .app import cli, existing_db, open_store
from .args import format_option, pick_format
from .demo import STATES
from .output import cell, echo_json, stderr, stdout

__all__ = ["recover", "stats"]


@cli.command()
@existing_db
@click.option(
    "--abort",
    is_flag=True,
    help="Mark the orphaned jobs ABORTED instead of FAILED.",
)
def recover(db: str, abort: bool) -> None:
    """Finish the jobs of DB whose process is gone, and print their ids.

    A WAITING or RUNNING job whose runner process no longer exists on this
    host (or that was imported, and so has none) can never finish: this marks
    it FAILED with an "interrupted" error, or ABORTED with --abort, as a
    daemon does at start-up (store.recover). Jobs of live processes are left
    alone. The ids changed go to stdout, one per line. Nothing else changes:
    retention is off here (an imported history keeps every job; a daemon's
    store is trimmed by the daemon when it next finishes a job).
    """
    state = "ABORTED" if abort else "FAILED"
    # Finishing a job applies retention: with the defaults, recovering a
    # 100k-job history would delete all but 1,000 finished jobs of it.
    with open_store(db, create=False, max_finished=None, transient_grace=None) as store:
        ids = store.recover(state=state)
    for job_id in ids:
        click.echo(job_id)
    stderr().print(f"{len(ids)} orphaned job(s) marked {state}", highlight=False)


@cli.command()
@existing_db
@format_option("table", "json")
def stats(db: str, output_format: str | None) -> None:
    """Count the jobs of DB by state and by method.

    Prints a table with one row per method and one column per state, with
    totals; --format json gives {"total", "by_state", "by_method"} instead.
    """
    with open_store(db, create=False) as store:
        rows = cast(list[dict[str, Any]], store.get_jobs(options={"select": ["method", "state"]}))
    by_method: dict[str, Counter[str]] = {}
    for row in rows:
        by_method.setdefault(row["method"], Counter())[row["state"]] += 1
    by_state = Counter(row["state"] for row in rows)
    if pick_format(output_format, "table") == "json":
        echo_json(_stats_json(len(rows), by_state, by_method))
        return
    table = Table(title=f"{len(rows)} jobs in {db}", title_justify="left")
    table.add_column("method")
    for state in (*STATES, "total"):
        table.add_column(state, justify="right")
    for method in sorted(by_method):
        counts = by_method[method]
        table.add_row(cell(method), *(str(counts[s]) for s in STATES), str(counts.total()))
    table.add_section()
    table.add_row("total", *(str(by_state[s]) for s in STATES), str(len(rows)), style="bold")
    stdout().print(table)


def _stats_json(
    total: int, by_state: Counter[str], by_method: dict[str, Counter[str]]
) -> dict[str, Any]:
    return {
        "total": total,
        "by_state": {state: by_state[state] for state in STATES},
        "by_method": {
            method: {state: counts[state] for state in STATES if counts[state]}
            for method, counts in sorted(by_method.items())
        },
    }
