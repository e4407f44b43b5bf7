"""The row codec: a ``jobs`` row <-> a job in JSON form, driven by ``columns.COLUMNS``.

Both directions are on the hot path (every query result goes through
``row_to_job``, every insert through ``job_to_row``), so the per-field work is
decided once, at import time, from the column map: ``row_to_job`` is built as
one flat dict expression instead of a loop over column descriptors.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

import orjson
from pydantic import BaseModel

from . import jsoncodec
from .columns import COLUMNS
from .models import JOB_FIELDS, Job

__all__ = ["JSON_FIELDS", "SELECT_COLUMNS", "SELECT_SQL", "job_to_row", "row_to_job"]

#: SQL column names, in ``JOB_FIELDS`` order: ``SELECT <these> FROM jobs`` feeds ``row_to_job``.
SELECT_COLUMNS: tuple[str, ...] = tuple(COLUMNS[field].name for field in JOB_FIELDS)

#: The same, ready to put after SELECT (names are ours, not user input).
SELECT_SQL: str = ", ".join(SELECT_COLUMNS)

#: Fields stored as JSON text.
JSON_FIELDS: frozenset[str] = frozenset(f for f in JOB_FIELDS if COLUMNS[f].storage == "json")


def _build_row_to_job() -> Any:
    parts = []
    for index, field in enumerate(JOB_FIELDS):
        storage = COLUMNS[field].storage
        if storage == "json":
            value = f"loads(row[{index}])"
        elif storage == "bool":
            value = f"row[{index}] == 1"
        else:
            value = f"row[{index}]"
        parts.append(f"{field!r}: {value}")
    source = f"def row_to_job(row):\n    return {{{', '.join(parts)}}}\n"
    namespace: dict[str, Any] = {"loads": orjson.loads}
    # Generated from our own column map (no outside input), so exec is safe here.
    exec(compile(source, "<jobstore.rows.row_to_job>", "exec"), namespace)
    return namespace["row_to_job"]


_row_to_job = _build_row_to_job()


def row_to_job(row: Sequence[Any] | sqlite3.Row) -> dict[str, Any]:
    """Decode a row of ``SELECT_COLUMNS`` into a job dict (keys in ``JOB_FIELDS`` order)."""
    return _row_to_job(row)


# Hot path callers may bind the generated function directly and skip one call.
row_to_job_fast = _row_to_job


_KINDS: tuple[tuple[str, str], ...] = tuple((f, COLUMNS[f].storage) for f in JOB_FIELDS)


def job_to_row(job: Job) -> tuple[Any, ...]:
    """Encode a validated Job as a row of ``SELECT_COLUMNS`` (``id`` may be None).

    Raises ``jsoncodec.JSONValueError`` (``where`` names the field, e.g.
    ``result.a[2]``) when a JSON field holds a value SQLite could not read back,
    or a text field a string SQLite cannot take (a lone surrogate).
    """
    # The field values straight from the model, not model_dump(): dumping
    # copies every nested value and cost more than validating the job. The
    # sub-models (progress, exc_info, credentials) hold only JSON values, so
    # one level of __dict__ is their dump (tests/test_store_schema.py checks it).
    data = job.__dict__
    dumps = jsoncodec.dumps
    row: list[Any] = []
    for field, kind in _KINDS:
        value = data[field]
        if kind == "json":
            if isinstance(value, BaseModel):
                value = value.__dict__
            row.append(dumps(value, field))
        elif kind == "bool":
            row.append(int(value))
        else:
            # isascii() first: the common case costs no call (a 100k import makes 800k).
            if kind == "text" and value is not None and not value.isascii():
                jsoncodec.check_text(value, field)
            row.append(value)
    return tuple(row)
