"""Printing results: rich tables for people, JSON and JSON lines for programs."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

import click
from rich import box
from rich.console import Console
from rich.table import Table

__all__ = [
    "JOB_COLUMNS",
    "cell",
    "echo_json",
    "echo_jsonl",
    "jobs_table",
    "json_text",
    "mapping_table",
    "owner",
    "stderr",
    "stdout",
    "visible",
]

#: The columns of a whole-job table: enough to tell jobs apart in a terminal.
JOB_COLUMNS = ("id", "method", "state", "owner", "time_started", "time_finished", "error")
_CELL_WIDTH = 60
_PIPE_WIDTH = 200
_MIN_FREE = 24  # a free-text column narrower than this is unreadable
#: Columns hidden, in this order, when a terminal is too narrow for the free text.
_DROPPABLE = ("time_started", "owner", "state")
#: Columns that give up width first when a table does not fit.
_FREE_TEXT = frozenset({"error", "description", "exception", "arguments", "result"})
#: Characters a terminal may act on rather than show: C0 and C1 controls, DEL,
#: line/paragraph separators, bidirectional overrides. Job text comes from
#: anyone who could start a job or hand over a history file, and must not
#: restyle, retitle or reorder the reader's terminal.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
#: The same outside JSON strings' own escapes (json.dumps escapes C0 already).
_UNSAFE_IN_JSON = re.compile("[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _json_escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def visible(text: str) -> str:
    """``text`` with the characters a terminal would act on written as escapes (``\\x1b``)."""
    return _UNSAFE.sub(_escape, text)


def json_text(value: Any, indent: int | None = None) -> str:
    """``value`` as JSON that is safe to show on a terminal, and loads back the same.

    Only characters inside strings are escaped (JSON has no others of these),
    as ``\\u009b``: the same string to any JSON reader.
    """
    return _UNSAFE_IN_JSON.sub(_json_escape, json.dumps(value, indent=indent, ensure_ascii=False))


def stdout() -> Console:
    """A console on stdout (plain text when it is not a terminal).

    Piped output gets a wide page, not rich's default 80 columns: a file or a
    pager is not squeezed, and a table keeps one line per row. Never markup:
    job data such as ``cannot mount [/mnt/tank]`` must print as it is.
    """
    console = Console(markup=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = _PIPE_WIDTH
    return console


def stderr() -> Console:
    """A console on stderr, for progress bars and notes that must not mix with data (no markup)."""
    return Console(stderr=True, markup=False)


def echo_json(value: Any) -> None:
    """Print ``value`` as indented JSON (job dicts need no custom encoder)."""
    click.echo(json_text(value, indent=2))


def echo_jsonl(values: Iterable[Any]) -> None:
    """Print one compact JSON document per line."""
    for value in values:
        click.echo(json_text(value))


def owner(job: Mapping[str, Any]) -> str | None:
    """The username that started ``job``; None for a system job."""
    credentials = job.get("credentials")
    if isinstance(credentials, dict) and isinstance(credentials.get("data"), dict):
        name = credentials["data"].get("username")
        return name if isinstance(name, str) else None
    return None


def cell(value: Any) -> str:
    """A table cell: strings as they are, other values as compact JSON, long ones cut.

    Whitespace runs become one space; other control characters, escapes.
    """
    if value is None:
        return "-"
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = visible(" ".join(text.split()))
    return text if len(text) <= _CELL_WIDTH else text[: _CELL_WIDTH - 1] + "…"


def jobs_table(
    jobs: list[dict[str, Any]], title: str | None = None, width: int | None = None
) -> Table:
    """A table of jobs: the usual columns for whole jobs, every key for selected ones.

    Free-text columns (error, description...) take the width left over and
    wrap. If ``width`` (the terminal's) leaves them too little, the columns
    of ``_DROPPABLE`` go first, and the title says so.
    """
    whole = all("credentials" in job and "method" in job for job in jobs) and bool(jobs)
    columns: list[str] = list(JOB_COLUMNS) if whole else []
    if not whole:
        for job in jobs:
            columns.extend(key for key in job if key not in columns)
    rows = {
        name: [
            cell(owner(job) or "(system)")
            if name == "owner" and whole
            else _time_cell(job.get(name))
            if name.startswith("time_")
            else cell(job.get(name))
            for job in jobs
        ]
        for name in columns
    }
    widths = {
        name: min(_CELL_WIDTH, max([len(name), *map(len, values)])) for name, values in rows.items()
    }
    hidden = _fit(columns, widths, width) if width is not None else []
    shown = [name for name in columns if name not in hidden]
    if hidden:
        note = f"({', '.join(hidden)} hidden: terminal too narrow)"
        title = f"{title} {note}" if title else note
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
    for name in shown:
        flexible = name in _FREE_TEXT
        # Rich narrows wrappable columns first, so only free text may wrap.
        table.add_column(
            name,
            no_wrap=not flexible,
            overflow="fold" if flexible else "ellipsis",
            min_width=None if flexible else widths[name],
        )
    for index in range(len(jobs)):
        table.add_row(*(rows[name][index] for name in shown))
    return table


def _fit(columns: list[str], widths: dict[str, int], width: int) -> list[str]:
    """The droppable columns to hide so the free-text ones keep ``_MIN_FREE`` characters."""
    hidden: list[str] = []
    free = [name for name in columns if name in _FREE_TEXT]
    if not free:
        return hidden

    def left_over() -> int:
        fixed = [name for name in columns if name not in free and name not in hidden]
        overhead = 3 * (len(columns) - len(hidden)) + 1  # padding and rules
        return width - overhead - sum(widths[name] for name in fixed)

    for name in _DROPPABLE:
        if left_over() >= _MIN_FREE * len(free):
            break
        if name in columns:
            hidden.append(name)
    return hidden


def _time_cell(value: Any) -> str:
    """A stored timestamp as people read it: ``2026-11-28 10:10:50`` (UTC)."""
    if isinstance(value, str) and len(value) == 32 and value.endswith("+00:00"):
        return value[:19].replace("T", " ")
    return cell(value)


def mapping_table(values: Mapping[str, Any], title: str | None = None) -> Table:
    """A two-column table of a mapping (one job from ``get``, a count by state...)."""
    table = Table(title=title, title_justify="left", show_header=False)
    table.add_column("key", style="bold")
    table.add_column("value", overflow="fold")
    for key, value in values.items():
        table.add_row(visible(key), cell(value))
    return table
