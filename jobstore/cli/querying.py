"""``jobstore query`` and ``jobstore explain``: get_jobs from the command line."""

from __future__ import annotations

import json
from typing import Any

import click

from .app import CLIError, cli, existing_db, open_store
from .args import caller, credentials, format_option, pick_format, query_options
from .output import echo_json, echo_jsonl, jobs_table, mapping_table, stdout

__all__ = ["explain", "query"]


@cli.command()
@existing_db
@query_options
@credentials
@format_option("table", "json", "jsonl")
def query(
    db: str,
    filters: Any,
    options: Any,
    as_user: str | None,
    roles: tuple[str, ...],
    output_format: str | None,
) -> None:
    """Run get_jobs on DB and print the answer.

    --filters and --options are JSON, exactly as get_jobs takes them (see
    QUERY.md): e.g. --filters '[["state", "=", "FAILED"]]' --options
    '{"order_by": ["-time_finished"], "limit": 5}'. With "count" the answer
    is a number, with "get" one job. Without --as-user the query runs as an
    internal caller (every job, raw values); with it, as that user holding the
    --role roles. The table shows the usual columns of whole jobs, or the
    selected fields; json and jsonl show everything.
    """
    with open_store(db, create=False) as store:
        answer = store.get_jobs(filters, options, caller(as_user, roles))
    shape = pick_format(output_format, "table")
    if isinstance(answer, int):  # options.count
        click.echo(answer)
    elif shape == "json":
        echo_json(answer)
    elif shape == "jsonl":
        echo_jsonl(answer if isinstance(answer, list) else [answer])
    elif isinstance(answer, dict):  # options.get
        stdout().print(mapping_table(answer))
    else:
        console = stdout()
        console.print(jobs_table(answer, width=console.width))


@cli.command()
@existing_db
@query_options
@credentials
@format_option("text", "json")
def explain(
    db: str,
    filters: Any,
    options: Any,
    as_user: str | None,
    roles: tuple[str, ...],
    output_format: str | None,
) -> None:
    """Show how a query would run: its SQL, parameters, Python residual.

    Takes the --filters and --options of `jobstore query` and prints what
    store.explain returns: the SQL sent to SQLite, its parameters, and the
    filter entries left to the Python evaluator (with the reason for each),
    then where ordering, paging and counting happen. --as-user and --role
    show the plan for that caller (its visibility rule, redacted fields).
    Nothing is read.
    """
    with open_store(db, create=False) as store:
        explain_method = getattr(store, "explain", None)
        if explain_method is None:
            raise CLIError("this version of jobstore cannot explain queries")
        plan: dict[str, Any] = explain_method(filters, options, caller(as_user, roles))
    if pick_format(output_format, "text") == "json":
        echo_json(plan)
        return
    _print_plan(plan)


def _print_plan(plan: dict[str, Any]) -> None:
    click.echo("SQL:")
    for line in str(plan.get("sql", "")).splitlines():
        click.echo(f"  {line}")
    click.echo(f"params: {json.dumps(plan.get('params', []), ensure_ascii=False)}")
    residual = plan.get("residual", [])
    reasons = plan.get("residual_reasons", [])
    if not residual:
        click.echo("residual: none (every filter runs in SQL)")
    else:
        click.echo("residual (evaluated in Python):")
        for index, entry in enumerate(residual):
            why = f"  # {reasons[index]}" if index < len(reasons) else ""
            click.echo(f"  {json.dumps(entry, ensure_ascii=False)}{why}")
    for key, value in plan.items():
        if key not in ("sql", "params", "residual", "residual_reasons"):
            click.echo(f"{key}: {json.dumps(value, ensure_ascii=False)}")
