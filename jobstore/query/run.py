"""Running a compiled query: SQL first, then whatever is left to Python, streaming the rows."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from typing import Any

from ..rows import row_to_job
from .compile import CompiledQuery
from .evaluate import apply_select, matches, order_items, page, the_match
from .ir import Options
from .paths import MISSING

__all__ = ["execute"]

Transform = Callable[[dict[str, Any]], dict[str, Any]]


def execute(
    conn: sqlite3.Connection,
    options: Options,
    compiled: CompiledQuery,
    transform: Transform | None = None,
) -> Any:
    """Run ``compiled`` on ``conn`` and finish in Python where its plan says so.

    Only ``options`` are read: the filters Python still applies are in
    ``compiled.residual``.

    ``transform`` (redaction) is applied to every job before the residual
    filters see it, so Python-side filtering acts on what the caller sees.
    """
    cursor = conn.execute(compiled.sql, compiled.params)
    try:
        if compiled.counted_in_sql:
            return cursor.fetchone()[0]
        if compiled.paged_in_sql and options.get:  # SQL did it all, LIMIT 1 included
            row = cursor.fetchone()
            if row is None:
                return the_match(MISSING, options.select)
            job = row_to_job(row) if transform is None else transform(row_to_job(row))
            # apply_select gives the job itself when nothing is selected: spare the call
            return apply_select(job, options.select) if options.select else job
        jobs: Iterator[dict[str, Any]] = map(row_to_job, cursor)
        if transform is not None:
            jobs = map(transform, jobs)
        if compiled.residual:
            residual = compiled.residual
            jobs = (job for job in jobs if all(matches(node, job) for node in residual))
        if options.count:
            return sum(1 for _ in jobs)
        if compiled.order_in_python:
            jobs = iter(order_items(list(jobs), options.order_by))
        return page(options, jobs, windowed=compiled.paged_in_sql)
    finally:
        cursor.close()
