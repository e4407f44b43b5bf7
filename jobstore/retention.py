"""Retention: which finished jobs are deleted, inside the transaction that finishes a job.

At most ``max_finished`` finished non-transient jobs are kept, the oldest
finished going first (as the reference daemon does); a transient job goes
once it has finished and its grace period has passed. WAITING and RUNNING
jobs are never deleted. ``None`` for either setting keeps those jobs (a
history being analysed, not a daemon's working set). What a deletion still
owes after the commit (log files to remove, REMOVED events) is collected in
an ``Outcome``.
"""

from __future__ import annotations

import math
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from .rows import SELECT_SQL, row_to_job
from .timeutil import format_timestamp

__all__ = ["FINISHED_SQL", "Outcome", "Retention", "delete_jobs"]

FINISHED_SQL = "('SUCCESS', 'FAILED', 'ABORTED')"

# FROM/WHERE of the finished transient jobs finished before the bound
# timestamp. INDEXED BY here and in prune: without statistics the planner
# prefers (state, method) and would read every finished job. A finished job
# without a time_finished (only an import can lack it) finished at an unknown
# time before now: its grace has passed.
_EXPIRED_TRANSIENT_SQL = (
    "FROM jobs INDEXED BY jobs_transient_finished "
    "WHERE transient = 1 AND (time_finished IS NULL OR time_finished < ?) "
    f"AND state IN {FINISHED_SQL}"
)


class Outcome:
    """What a committed write still owes: events to send and log files to delete."""

    __slots__ = ("events", "logs", "removed")

    def __init__(self) -> None:
        self.events: list[tuple[str, int, dict[str, Any] | None]] = []
        self.logs: list[int] = []  # jobs whose log file goes with them
        self.removed: list[int] = []  # every job deleted by retention


@dataclass(frozen=True, slots=True)
class Retention:
    """How many finished jobs to keep, and how long a finished transient job stays.

    ``max_finished=None``: no limit; ``transient_grace=None``: finished
    transient jobs stay.
    """

    max_finished: int | None = 1000
    transient_grace: float | None = 0.0

    def __post_init__(self) -> None:
        limit, grace = self.max_finished, self.transient_grace
        if limit is not None and (
            isinstance(limit, bool) or not isinstance(limit, int) or limit < 0
        ):
            raise ValueError(f"max_finished must be an int >= 0 or None, not {limit!r}")
        if grace is None:
            return
        if (
            isinstance(grace, bool)
            or not isinstance(grace, int | float)
            or not math.isfinite(grace)
            or grace < 0
        ):
            raise ValueError(f"transient_grace must be >= 0 seconds or None, not {grace!r}")
        object.__setattr__(self, "transient_grace", float(grace))

    @property
    def removes_on_finish(self) -> bool:
        """Whether a transient job is deleted in the very write that finishes it."""
        return self.transient_grace is not None and self.transient_grace <= 0

    @property
    def expires_later(self) -> bool:
        """Whether finished transient jobs wait out a grace period before deletion."""
        return self.transient_grace is not None and self.transient_grace > 0

    def any_expired(self, conn: sqlite3.Connection) -> bool:
        """Whether a finished transient job has waited out its grace period (a read)."""
        if self.transient_grace is None:
            return False
        sql = f"SELECT EXISTS (SELECT 1 {_EXPIRED_TRANSIENT_SQL})"
        return bool(conn.execute(sql, (self._expiry(),)).fetchone()[0])

    def _expiry(self) -> str:
        """Transient jobs finished before this timestamp have waited out their grace."""
        return format_timestamp(datetime.now(UTC) - timedelta(seconds=self.transient_grace or 0))

    def prune(
        self, conn: sqlite3.Connection, outcome: Outcome, *, now: str | None, notify: bool
    ) -> None:
        """Delete expired transient jobs and the finished jobs beyond ``max_finished``.

        ``now``: the finishing job's time_finished (None: the clock). The
        finished count is one row kept by triggers, and the lookups walk an
        index from its old end (past the unfinished jobs' entries), so the
        cost is that of the rows deleted, not of the table. ``notify``:
        collect REMOVED events with the jobs.
        """
        grace, limit = self.transient_grace, self.max_finished
        if grace is None and limit is None:
            return
        if grace is not None and (grace > 0 or now is None):
            now = self._expiry()
        transient_sql = _EXPIRED_TRANSIENT_SQL
        # The undated finished jobs (the oldest, having no date) sit at the
        # index's NULL end among the unfinished ones (a daemon's few), which
        # "IS NOT NULL" skips below.
        undated_sql = (
            "FROM jobs INDEXED BY jobs_time_finished "
            f"WHERE time_finished IS NULL AND state IN {FINISHED_SQL} AND transient = 0"
        )
        finished, any_expired, any_undated = conn.execute(
            "SELECT (SELECT finished FROM job_counts WHERE id = 1), "
            f"EXISTS (SELECT 1 {transient_sql}), EXISTS (SELECT 1 {undated_sql})",
            (now,),
        ).fetchone()
        if any_expired and grace is not None:
            delete_jobs(conn, f"SELECT id {transient_sql}", (now,), outcome)
        if limit is None:
            return
        excess = finished - limit
        if excess <= 0:
            return
        # Oldest first, as ``order_by: ["time_finished"]`` lists them: the
        # undated (oldest id first), then by time_finished and id.
        if any_undated:
            excess -= delete_jobs(
                conn, f"SELECT id {undated_sql} ORDER BY id LIMIT ?", (excess,), outcome,
                notify=notify,
            )  # fmt: skip
        if excess > 0:
            delete_jobs(
                conn,
                "SELECT id FROM jobs INDEXED BY jobs_time_finished "
                f"WHERE time_finished IS NOT NULL AND state IN {FINISHED_SQL} AND transient = 0 "
                "ORDER BY time_finished, id LIMIT ?",
                (excess,),
                outcome,
                notify=notify,
            )


def delete_jobs(
    conn: sqlite3.Connection,
    select_ids: str,
    params: tuple[Any, ...],
    outcome: Outcome,
    *,
    notify: bool = False,
) -> int:
    """Delete the jobs whose ids ``select_ids`` (our own SQL) yields; return how many."""
    columns = f"id, logs_path, {SELECT_SQL}" if notify else "id, logs_path"
    rows = conn.execute(
        f"DELETE FROM jobs WHERE id IN ({select_ids}) RETURNING {columns}", params
    ).fetchall()
    rows.sort(key=lambda row: row[0])  # RETURNING order is unspecified
    for row in rows:
        outcome.removed.append(row[0])
        if row[1] is not None:
            outcome.logs.append(row[0])
        if notify:
            outcome.events.append(("REMOVED", row[0], row_to_job(row[2:])))
    return len(rows)
