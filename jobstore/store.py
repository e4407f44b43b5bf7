"""``JobStore``: jobs persisted in SQLite, with their lifecycle, retention, logs and recovery."""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import shutil
import sqlite3
import tempfile
import traceback
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from types import TracebackType
from typing import Any

import sqlite_utils
from pydantic import BaseModel, ValidationError

from . import jsoncodec
from .access import AccessPolicy, Caller, redact_job, view_redacted_roots
from .batch import BatchError, encode_batch
from .connection import Connections
from .delivery import Delivery, Listener
from .errors import IllegalTransition, InvalidJob, JobNotFound, JobStoreError
from .events import Callback, Subscription, subscribe
from .logs import LogFolder
from .models import FINISHED_STATES, ID_MAX, JOB_FIELDS, ExcInfo, Job
from .permissions import abort_guard, check_abort, readable_job
from .query import prepared
from .query.compile import INTERNAL, View, ensure_pushable
from .query.explain import explain_query
from .query.ir import Options
from .query.parse import parse_query
from .query.run import Transform, execute
from .redaction import SecretsRegistry
from .retention import Outcome, Retention, delete_jobs
from .rows import SELECT_SQL, row_to_job
from .runner import current_runner, is_alive, runner_pid
from .timeutil import now_timestamp

__all__ = ["JobStore", "Listener"]

logger = logging.getLogger(__name__)

_UNFINISHED_SQL = "('WAITING', 'RUNNING')"
_INSERT_SQL = f"INSERT INTO jobs ({SELECT_SQL}) VALUES ({', '.join('?' * len(JOB_FIELDS))})"
# A new job names only the columns it sets; the rest start NULL.
_CREATE_COLUMNS = (
    "message_ids", "method", "arguments", "transient", "description", "abortable", "progress",
    "result", "result_encoding_error", "exc_info", "state", "credentials", "runner",
)  # fmt: skip
_CREATE_SQL = (
    f"INSERT INTO jobs ({', '.join(_CREATE_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(_CREATE_COLUMNS))})"
)
_NEW_PROGRESS = jsoncodec.dumps({"percent": None, "description": None, "extra": None})
_SELECT_ONE_SQL = f"SELECT {SELECT_SQL} FROM jobs WHERE id = ?"
_TRANSIENT = JOB_FIELDS.index("transient")
_LOGS_PATH = JOB_FIELDS.index("logs_path")
_ID_CHUNK = 500  # ids per "IN (...)" lookup, well under SQLite's variable limit


_DAEMON_VIEW: tuple[View, Transform | None] = (INTERNAL, None)


class JobStore:
    """A persistent store of jobs in one SQLite file (or ``":memory:"``).

    >>> store = JobStore(":memory:")
    >>> job_id = store.create("pool.scrub", [1])
    >>> store.start(job_id); store.succeed(job_id, {"errors": 0})
    >>> store.get_job(job_id)["state"]
    'SUCCESS'

    Threads and processes: one store may be used from any number of threads;
    each thread gets its own connection to a file database, while ``:memory:``
    (private to one connection) shares one connection guarded by a lock. Any
    number of processes may open the same file: every write is a
    ``BEGIN IMMEDIATE`` transaction (waiting ``busy_timeout`` seconds, then
    retrying) and every transition is one guarded UPDATE, so two writers can
    never both move the same job. Change events (``_listeners``) only report
    changes made through this store object.

    Retention: at most ``max_finished`` finished non-transient jobs are kept
    (the oldest by ``time_finished``, then ``id``, are deleted with their
    logs when a job finishes); a transient job is deleted once it has been
    finished for ``transient_grace`` seconds (immediately by default, else by
    the first create, start or finish after that, or ``prune()``). WAITING
    and RUNNING jobs are never pruned. ``insert_many`` keeps an imported
    history as given; it is trimmed on the next finish or by ``prune()``.
    ``None`` turns either rule off (``max_finished=None,
    transient_grace=None`` keeps every job: a history analysed offline).

    Logs live in ``logs_dir`` (default ``<db path>.logs/``); for ``:memory:``
    a temporary folder that ``close()`` deletes.

    Opening: a new file (or an empty database) gets the schema unless
    ``create=False``, which opens only an existing job store (``:memory:`` is
    always new). A database of another application (tables of its own, no job
    store) raises SchemaError and is left untouched.

    Durability: WAL with ``synchronous=NORMAL`` (see ``jobstore.connection``):
    a crashed process loses nothing; a power cut may lose the last commits
    but never corrupts the file. Pass ``synchronous="FULL"`` to fsync each commit.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        max_finished: int | None = 1000,
        transient_grace: float | None = 0.0,
        logs_dir: str | os.PathLike[str] | None = None,
        busy_timeout: float = 10.0,
        synchronous: str = "NORMAL",
        create: bool = True,
    ) -> None:
        self._retention = Retention(max_finished, transient_grace)  # ValueError if bad
        self.path = os.fsdecode(path)  # TypeError for what is not a path
        try:
            self._conns = Connections(
                self.path, busy_timeout=busy_timeout, synchronous=synchronous, create=create
            )
        except sqlite3.DatabaseError as exc:  # missing folder, not a database, no permission
            raise JobStoreError(f"cannot open job store {self.path!r}: {exc}") from exc
        self._temporary_logs = logs_dir is None and self._conns.memory
        if logs_dir is not None:
            folder = os.path.abspath(logs_dir)
        elif self._conns.memory:
            folder = tempfile.mkdtemp(prefix="jobstore-logs-")
        else:
            folder = os.path.abspath(self.path) + ".logs"
        self.logs_dir = Path(folder)
        self._logs = LogFolder(self.logs_dir)
        #: Who may read which jobs (per-method read roles), and which values are secret.
        self.access = AccessPolicy()
        self.secrets = SecretsRegistry()
        #: Called after every committed change, in commit order (``jobstore.delivery``):
        #: ``listener(kind, job_id, job)``, kind "ADDED", "CHANGED" or "REMOVED" (also
        #: for retention), job as it is after the change (REMOVED: when deleted).
        #: Transient jobs are never reported; a listener that raises is logged.
        self._listeners: list[Listener] = []
        self._events = Delivery(self._listeners)

    # -- connections and transactions -------------------------------------

    def _connection(self) -> sqlite3.Connection:
        """The calling thread's connection (for the query engine); autocommit mode."""
        return self._conns.get()

    def _write(self) -> AbstractContextManager[sqlite3.Connection]:
        """``with store._write() as conn:`` one ``BEGIN IMMEDIATE`` transaction.

        Commits when the block ends, rolls back if it raises; not re-entrant.
        """
        return self._conns.write()

    @property
    def db(self) -> sqlite_utils.Database:
        """The calling thread's connection as a ``sqlite_utils.Database``."""
        return self._conns.database()

    def close(self) -> None:
        """Close every connection (and delete the temporary logs of ``:memory:``)."""
        self._conns.close()
        if self._temporary_logs:
            shutil.rmtree(self.logs_dir, ignore_errors=True)

    def __enter__(self) -> JobStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- reading -----------------------------------------------------------

    def get_job(
        self, job_id: int, credentials: Any = None, *, raw_result: bool | None = None
    ) -> dict[str, Any]:
        """The job with this id, in JSON form, as ``get_jobs`` would return it to ``credentials``.

        A job the caller may not see raises JobNotFound, exactly as a missing
        one does (see ``jobstore.permissions``); ``raw_result`` is
        ``extra.raw_result``.
        """
        caller = Caller.parse(credentials)
        job = self._read_job(job_id)
        return readable_job(self.access, self.secrets, caller, job, job_id, raw_result)

    def _read_job(self, job_id: int) -> dict[str, Any] | None:
        """The raw job with this id, or None."""
        with self._conns.statement() as conn:
            row = conn.execute(_SELECT_ONE_SQL, (_check_id(job_id),)).fetchone()
        return None if row is None else row_to_job(row)

    def get_jobs(
        self,
        filters: list[Any] | None = None,
        options: dict[str, Any] | None = None,
        credentials: Any = None,
    ) -> list[dict[str, Any]] | dict[str, Any] | int:
        """Query jobs with ``core.get_jobs`` semantics (QUERY.md), as ``credentials`` may see them.

        No credentials: an internal caller. ``{"username": ..., "roles": [...]}``
        (or an ``access.Caller``): an external one, who sees only its own jobs
        (all with ``FULL_ADMIN``) with secrets redacted.
        """
        query = prepared.prepare(filters, options, credentials)
        query_options = query.options
        view, transform = self._view(query_options, credentials)
        compiled = query.compiled(view)
        if query_options.force_sql_filters:
            ensure_pushable(query_options, compiled)  # refused before any row is read
        with self._conns.statement() as conn:
            return execute(conn, query_options, compiled, transform)

    def explain(
        self,
        filters: list[Any] | None = None,
        options: dict[str, Any] | None = None,
        credentials: Any = None,
    ) -> dict[str, Any]:
        """How ``get_jobs`` would run: ``{"sql", "params", "residual", ...}``."""
        query = parse_query(filters, options)
        view, _ = self._view(query.options, credentials)
        return explain_query(query, view)

    def _view(self, options: Options, credentials: Any) -> tuple[View, Transform | None]:
        """What this caller may see (rows, in SQL) and how its jobs are redacted (in Python)."""
        extra = options.extra
        if credentials is None and (not extra or extra.get("raw_result") is not False):
            return _DAEMON_VIEW  # the daemon itself: every row, raw values
        raw_result = extra.get("raw_result")
        caller = Caller.parse(credentials)
        visibility = self.access.visibility(caller)
        reads_others = visibility is not None and bool(visibility.methods)
        redacted = view_redacted_roots(caller, raw_result, reads_others)
        transform: Transform | None = None
        if redacted:
            secrets = self.secrets

            def transform(job: dict[str, Any]) -> dict[str, Any]:
                return redact_job(job, caller, raw_result, secrets)

        if visibility is None:
            return View(redacted=redacted), transform
        view = View(
            restricted=True,
            owner=visibility.username,
            methods=tuple(sorted(visibility.methods)),
            redacted=redacted,
        )
        return view, transform

    def _select_all(self) -> list[dict[str, Any]]:
        with self._conns.statement() as conn:
            rows = conn.execute(f"SELECT {SELECT_SQL} FROM jobs ORDER BY id").fetchall()
        return [row_to_job(row) for row in rows]

    # -- lifecycle ---------------------------------------------------------

    def create(
        self,
        method: str,
        arguments: Iterable[Any] = (),
        *,
        description: str | None = None,
        transient: bool = False,
        abortable: bool = False,
        credentials: dict[str, Any] | None = None,
        message_ids: Iterable[Any] = (),
    ) -> int:
        """Record a new WAITING job run by this process; return its id."""
        try:
            job = Job(
                method=method,
                arguments=_listed(arguments),
                description=description,
                transient=transient,
                abortable=abortable,
                credentials=credentials,
                message_ids=_listed(message_ids),
            )
            jsoncodec.check_text(job.method, "method")
            jsoncodec.check_text(job.description, "description")
            dumps = jsoncodec.dumps
            creds = job.credentials
            values = (
                dumps(job.message_ids, "message_ids"),
                job.method,
                dumps(job.arguments, "arguments"),
                int(job.transient),
                job.description,
                int(job.abortable),
                _NEW_PROGRESS,
                "null",
                "null",
                "null",
                "WAITING",
                dumps(None if creds is None else creds.model_dump(), "credentials"),
                current_runner(),
            )
        except ValidationError as exc:
            raise InvalidJob(_describe(exc, "create")) from None
        except jsoncodec.JSONValueError as exc:
            raise InvalidJob(f"create: {exc}") from None
        sql = _CREATE_SQL
        if self._listeners and not transient:
            sql += f" RETURNING {SELECT_SQL}"
        with self._events.ordered():
            try:
                rows, cursor = self._conns.execute(sql, values)
            except sqlite3.OperationalError as exc:
                # AUTOINCREMENT reports an exhausted id space as a full database.
                if getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL:
                    with self._conns.statement() as conn:
                        if self._last_id(conn) >= ID_MAX:
                            raise JobStoreError(
                                f"no job id is left: the highest possible id, {ID_MAX}, is taken"
                            ) from None
                raise
            job_id = int(cursor.lastrowid or 0)
            if rows:
                self._events.put("ADDED", job_id, row_to_job(rows[0]))
        self._events.deliver()
        self._expire_transient()
        return job_id

    def start(self, job_id: int) -> None:
        """WAITING -> RUNNING; sets ``time_started`` and records this process as the runner."""
        self._update(
            job_id,
            "start",
            "only a WAITING job can start",
            "state = 'RUNNING', time_started = ?, runner = ?",
            "state = 'WAITING'",
            (now_timestamp(), current_runner()),
        )
        self._expire_transient()

    def set_progress(
        self,
        job_id: int,
        percent: float | None = None,
        description: str | None = None,
        extra: Any = None,
    ) -> None:
        """Change the given parts of ``progress`` (None leaves a part as it is).

        ``percent`` is rounded down to an int. Allowed on WAITING and RUNNING
        jobs (a queued job may report e.g. "waiting for lock"); refused once
        the job has finished.
        """
        parts: list[str] = []
        params: list[Any] = []
        if percent is not None:
            parts.append("'$.percent', ?")
            params.append(_percent(percent))
        if description is not None:
            if not isinstance(description, str):
                raise InvalidJob(f"progress description must be a string, not {description!r}")
            jsoncodec.check_json_value(description, "progress.description")
            parts.append("'$.description', ?")
            params.append(description)
        if extra is not None:
            try:
                # One level down in progress, as stored.
                params.append(jsoncodec.dumps(extra, "progress.extra", depth=1))
            except jsoncodec.JSONValueError as exc:
                raise InvalidJob(f"set_progress: {exc}") from None
            parts.append("'$.extra', json(?)")
        value = f"json_set(progress, {', '.join(parts)})" if parts else "progress"
        self._update(
            job_id,
            "set progress of",
            "a finished job's progress never changes",
            f"progress = {value}",
            f"state IN {_UNFINISHED_SQL}",
            tuple(params),
        )

    def succeed(self, job_id: int, result: Any = None) -> None:
        """RUNNING -> SUCCESS with ``result``; ``progress.percent`` becomes 100.

        A result that cannot be stored as JSON is stored as null, and the
        reason goes to ``result_encoding_error`` (the job still succeeds).
        """
        try:
            result_text, encoding_error = jsoncodec.dumps(result, "result"), "null"
        except Exception as exc:  # a hostile __repr__ or __str__ raises anything
            result_text, encoding_error = "null", jsoncodec.dumps(_message(exc))
        self._finish(
            job_id,
            "SUCCESS",
            "succeed",
            "only a RUNNING job can succeed",
            "result = ?, result_encoding_error = ?, "
            "progress = json_set(progress, '$.percent', 100)",
            (result_text, encoding_error),
            "state = 'RUNNING'",
        )

    def fail(
        self,
        job_id: int,
        error: str | BaseException,
        exception: str | None = None,
        exc_info: dict[str, Any] | ExcInfo | None = None,
    ) -> None:
        """WAITING/RUNNING -> FAILED.

        ``error`` may be the message, or the caught exception itself: then the
        message is ``str(exc)``, ``exception`` its formatted traceback and
        ``exc_info`` its repr, type name, errno and ``extra`` attribute
        (explicit ``exception``/``exc_info`` arguments win).
        """
        if isinstance(error, BaseException):
            # What a caught exception says is recorded, not refused: a NUL or a
            # lone surrogate (output decoded with surrogateescape) becomes an escape.
            exc = error
            error = _message(exc)
            if exception is None:
                exception = jsoncodec.storable_text("".join(traceback.format_exception(exc)))
            if exc_info is None:
                exc_info = _exc_info(exc)
        if not isinstance(error, str):
            raise InvalidJob(f"fail: error must be a string or an exception, not {error!r}")
        if exception is not None and not isinstance(exception, str):
            raise InvalidJob(f"fail: exception must be a string, not {exception!r}")
        try:
            info = None if exc_info is None else ExcInfo.model_validate(exc_info).model_dump()
            info_text = jsoncodec.dumps(info, "exc_info")
            # Plain text columns, as for create's: only lone surrogates are refused.
            jsoncodec.check_text(error, "error")
            jsoncodec.check_text(exception, "exception")
        except ValidationError as exc:
            raise InvalidJob(_describe(exc, "fail: exc_info")) from None
        except jsoncodec.JSONValueError as exc:
            raise InvalidJob(f"fail: {exc}") from None
        self._finish(
            job_id,
            "FAILED",
            "fail",
            "only a WAITING or RUNNING job can fail",
            "error = ?, exception = ?, exc_info = ?",
            (error, exception, info_text),
            f"state IN {_UNFINISHED_SQL}",
        )

    def fail_with(self, job_id: int, exc: BaseException) -> None:
        """Record a caught exception: ``fail(job_id, exc)``."""
        if not isinstance(exc, BaseException):  # a message belongs in fail()
            raise InvalidJob(f"fail_with: exc must be an exception, not {type(exc).__name__}")
        self.fail(job_id, exc)

    def abort(self, job_id: int, credentials: Any = None) -> None:
        """-> ABORTED: a WAITING job, or a RUNNING job that is abortable.

        ``credentials`` as for ``get_jobs``: internal (None) and ``FULL_ADMIN``
        callers abort any job, others only their own. A job the caller may not
        see raises JobNotFound (as if missing); one it sees but does not own
        (a method reader's) raises PermissionDenied.
        """
        caller = Caller.parse(credentials)
        rule = "only a WAITING job or an abortable RUNNING job can be aborted"
        guard = "(state = 'WAITING' OR (state = 'RUNNING' AND abortable = 1))"
        owner_guard, params = abort_guard(caller)
        if caller is not None:
            check_abort(self.access, caller, self._read_job(job_id), job_id)
        if self._finish(
            job_id, "ABORTED", "abort", rule, "", (), guard + owner_guard, params,
            quiet=bool(owner_guard),
        ):  # fmt: skip
            return
        # Refused with the owner guard: name the reason only after re-checking
        # access, so the error never describes a job the caller may not see.
        check_abort(self.access, caller, self._read_job(job_id), job_id)
        with self._conns.statement() as conn:
            raise self._refusal(conn, job_id, "abort", rule)

    # -- logs --------------------------------------------------------------

    def append_log(self, job_id: int, data: bytes | str) -> None:
        """Append to the job's log file (str as UTF-8); refused once the job finished."""
        if not isinstance(data, bytes | str):
            raise InvalidJob(f"log data must be bytes or str, not {type(data).__name__}")
        job_id = _check_id(job_id)
        with self._events.ordered():
            changed = self._append_log(job_id, data)
            if changed and self._listeners and changed[_TRANSIENT] != 1:
                self._events.put("CHANGED", job_id, row_to_job(changed))
        self._events.deliver()

    def _append_log(self, job_id: int, data: bytes | str) -> Any:
        """Append in a write transaction; the job's new row if logs_path was just set."""
        with self._write() as conn:
            # Inside the write lock, so a finishing transition (which reads the
            # log for its excerpt under the same lock) never misses a line.
            row = conn.execute(
                "SELECT state, logs_path FROM jobs WHERE id = ?", (job_id,)
            ).fetchone()
            if row is None:
                raise JobNotFound(f"job {job_id} does not exist")
            if row[0] in FINISHED_STATES:
                raise IllegalTransition(
                    f"cannot append to the log of job {job_id}: it is {row[0]}; "
                    "a finished job's log is closed"
                )
            logs_path = row[1]
            path = self._logs.append(job_id, data, first=logs_path is None)
            if logs_path == str(path):
                return None
            # Also when an imported job named a log elsewhere: logs_path names
            # the file written, the one its excerpt will be read from.
            return conn.execute(
                f"UPDATE jobs SET logs_path = ? WHERE id = ? RETURNING {SELECT_SQL}",
                (str(path), job_id),
            ).fetchone()

    # -- retention ---------------------------------------------------------

    @property
    def max_finished(self) -> int | None:
        """Finished non-transient jobs kept (the oldest finished go first); None: all."""
        return self._retention.max_finished

    @max_finished.setter
    def max_finished(self, value: int | None) -> None:
        self._retention = dataclasses.replace(self._retention, max_finished=value)

    @property
    def transient_grace(self) -> float | None:
        """Seconds a finished transient job stays before it is deleted; None: it stays."""
        return self._retention.transient_grace

    @transient_grace.setter
    def transient_grace(self, value: float | None) -> None:
        self._retention = dataclasses.replace(self._retention, transient_grace=value)

    def prune(self) -> list[int]:
        """Apply retention now (it also runs whenever a job finishes); return deleted ids."""
        outcome = Outcome()
        with self._events.ordered():
            with self._write() as conn:
                self._retention.prune(conn, outcome, now=None, notify=bool(self._listeners))
            self._queue_events(outcome)
        self._after_commit(outcome)
        return outcome.removed

    def _expire_transient(self) -> None:
        """With a grace period, delete the transient jobs that have waited it out.

        Finishing a job already prunes; creating and starting one do this too,
        so that on a store where jobs come and go an expired transient job
        does not linger until the next finish. Costs one indexed read.
        """
        retention = self._retention
        if not retention.expires_later:
            return
        with self._conns.statement() as conn:
            due = retention.any_expired(conn)
        if due:
            self.prune()

    def _queue_events(self, outcome: Outcome) -> None:
        """Queue a committed write's events (inside ``self._events.ordered()``)."""
        for kind, job_id, job in outcome.events:
            self._events.put(kind, job_id, job)

    def _after_commit(self, outcome: Outcome) -> None:
        """Delete the logs of deleted jobs, then deliver the queued events."""
        for job_id in outcome.logs:
            try:
                self._logs.remove(job_id)
            except OSError:
                logger.exception("could not delete the log of pruned job %s", job_id)
        self._events.deliver()

    # -- recovery ----------------------------------------------------------

    def orphaned_jobs(self) -> list[dict[str, Any]]:
        """WAITING/RUNNING jobs whose runner process is gone (nothing is changed)."""
        return [job for _runner, job in self._orphans()]

    def recover(self, *, state: str = "FAILED", error: str | None = None) -> list[int]:
        """Finish every orphaned job as FAILED (or ABORTED); return the ids changed.

        A daemon calls this at start-up. Jobs of processes still alive on this
        host are left alone; so is a job another process picks up meanwhile.
        """
        if state not in ("FAILED", "ABORTED"):
            raise InvalidJob(f"recover: state must be 'FAILED' or 'ABORTED', not {state!r}")
        if error is not None and not isinstance(error, str):
            raise InvalidJob(f"recover: error must be a string, not {error!r}")
        if error is not None:
            try:
                jsoncodec.check_text(error, "error")
            except jsoncodec.JSONValueError as exc:
                raise InvalidJob(f"recover: {exc}") from None
        changed = []
        for runner, job in self._orphans():
            pid = runner_pid(runner)
            message = error or (
                f"Job interrupted: the process that ran it (pid {pid}) is no longer running"
                if pid is not None
                else "Job interrupted: no running process was recorded for it"
            )
            if self._finish(
                job["id"],
                state,
                "recover",
                "",
                "error = ?",
                (message,),
                f"state IN {_UNFINISHED_SQL} AND runner IS ?",
                (runner,),
                quiet=True,
            ):
                changed.append(job["id"])
        return changed

    def _orphans(self) -> list[tuple[str | None, dict[str, Any]]]:
        with self._conns.statement() as conn:
            rows = conn.execute(
                f"SELECT runner, {SELECT_SQL} FROM jobs "
                f"WHERE state IN {_UNFINISHED_SQL} ORDER BY id"
            ).fetchall()
        alive: dict[str | None, bool] = {}
        orphans = []
        for runner, *row in rows:
            if runner not in alive:
                alive[runner] = is_alive(runner)
            if not alive[runner]:
                orphans.append((runner, row_to_job(row)))
        return orphans

    # -- bulk import ---------------------------------------------------------

    def insert_many(
        self,
        jobs: Iterable[dict[str, Any] | Job],
        *,
        batch_size: int = 5000,
        progress: Callable[[int], None] | None = None,
    ) -> list[int]:
        """Insert jobs given in JSON form (missing fields take a new job's defaults).

        A job keeps its ``id`` if it has one; the others get new ids. All or
        nothing: a job that does not fit the schema, or an id that is
        duplicated (in the batch or in the store), raises InvalidJob naming
        the job's index and field, and nothing is written. ``progress`` is
        called with the number of jobs written so far after each batch.
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, not {batch_size!r}")
        if isinstance(jobs, str | bytes | dict | BaseModel) or not isinstance(jobs, Iterable):
            kind = type(jobs).__name__
            raise InvalidJob(f"insert_many takes an iterable of jobs (a list of dicts), not {kind}")
        try:
            rows, explicit = encode_batch(jobs)
        except BatchError as exc:
            if exc.explicit:  # an earlier job's id may be taken: that one is the first bad job
                with self._conns.statement() as conn:
                    self._check_ids_free(conn, exc.explicit)
            raise InvalidJob(str(exc)) from None
        if not rows:
            return []
        with self._events.ordered():
            self._insert_rows(rows, explicit, batch_size, progress)
            if self._listeners:
                for row in rows:
                    if row[_TRANSIENT] != 1:
                        self._events.put("ADDED", row[0], row_to_job(row))
        self._events.deliver()
        return [row[0] for row in rows]

    def _insert_rows(
        self,
        rows: list[tuple[Any, ...]],
        explicit: dict[int, int],
        batch_size: int,
        progress: Callable[[int], None] | None,
    ) -> None:
        """Give the rows without an id the next ids, and insert them all in one transaction."""
        with self._write() as conn:
            self._check_ids_free(conn, explicit)
            next_id = max(self._last_id(conn), max(explicit, default=0)) + 1
            for index, row in enumerate(rows):
                if row[0] is None:
                    if next_id > ID_MAX:
                        raise InvalidJob(
                            f"job #{index}, field 'id': no id is left to give it "
                            f"(the highest possible, {ID_MAX}, is taken)"
                        )
                    rows[index] = (next_id, *row[1:])
                    next_id += 1
            for start in range(0, len(rows), batch_size):
                conn.executemany(_INSERT_SQL, rows[start : start + batch_size])
                if progress is not None:
                    progress(min(start + batch_size, len(rows)))

    @staticmethod
    def _last_id(conn: sqlite3.Connection) -> int:
        """The highest id ever handed out (AUTOINCREMENT's memory, or the table's max)."""
        (last,) = conn.execute(
            "SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'jobs'), 0), "
            "coalesce((SELECT max(id) FROM jobs), 0))"
        ).fetchone()
        return int(last)

    @staticmethod
    def _check_ids_free(conn: sqlite3.Connection, explicit: dict[int, int]) -> None:
        ids = list(explicit)
        for start in range(0, len(ids), _ID_CHUNK):
            chunk = ids[start : start + _ID_CHUNK]
            marks = ", ".join("?" * len(chunk))
            taken = conn.execute(f"SELECT id FROM jobs WHERE id IN ({marks})", chunk).fetchall()
            if taken:
                index, job_id = min((explicit[job_id], job_id) for (job_id,) in taken)
                raise InvalidJob(f"job #{index}, field 'id': a job with id {job_id} already exists")

    # -- change events -------------------------------------------------------

    def subscribe(self, callback: Callback, credentials: Any = None) -> Subscription:
        """Call ``callback(kind, job)`` after each committed change a caller may see.

        ``kind`` is "ADDED", "CHANGED" or "REMOVED"; ``job`` is in the form
        ``get_jobs`` returns to ``credentials`` (see ``jobstore.events``).
        Returns a handle: ``.unsubscribe()``, ``.close()`` or use it in ``with``.
        """
        return subscribe(self, callback, credentials)

    # -- transition machinery ------------------------------------------------

    def _update(
        self,
        job_id: int,
        action: str,
        rule: str,
        assignments: str,
        guard: str,
        params: tuple[Any, ...],
    ) -> None:
        """One guarded UPDATE of an unfinished job; raise if the guard refused it.

        ``assignments`` and ``guard`` are SQL of our own; values only as params.
        """
        job_id = _check_id(job_id)
        sql = f"UPDATE jobs SET {assignments} WHERE id = ? AND {guard}"
        if self._listeners:
            sql += f" RETURNING {SELECT_SQL}"
        with self._events.ordered():
            # One statement in autocommit mode is atomic; no BEGIN/COMMIT needed.
            rows, cursor = self._conns.execute(sql, (*params, job_id))
            if cursor.rowcount != 1:
                with self._conns.statement() as conn:
                    raise self._refusal(conn, job_id, action, rule)
            if rows and rows[0][_TRANSIENT] != 1:
                self._events.put("CHANGED", job_id, row_to_job(rows[0]))
        self._events.deliver()

    def _finish(
        self,
        job_id: int,
        state: str,
        action: str,
        rule: str,
        assignments: str,
        params: tuple[Any, ...],
        guard: str,
        guard_params: tuple[Any, ...] = (),
        *,
        quiet: bool = False,
    ) -> bool:
        """Move a job to a finished ``state`` and apply retention, in one transaction.

        Returns False instead of raising when ``quiet`` and the guard refused.
        """
        job_id = _check_id(job_id)
        extra = f", {assignments}" if assignments else ""
        listening = bool(self._listeners)
        returning = SELECT_SQL if listening else "transient, logs_path"
        sql = (
            f"UPDATE jobs SET state = ?, time_finished = ?{extra} "
            f"WHERE id = ? AND {guard} RETURNING {returning}"
        )
        now = now_timestamp()
        outcome = Outcome()
        with self._events.ordered():
            with self._write() as conn:
                rows = conn.execute(sql, (state, now, *params, job_id, *guard_params)).fetchall()
                if not rows:
                    if quiet:
                        return False
                    raise self._refusal(conn, job_id, action, rule)
                row = rows[0]
                transient, logs_path = (
                    (row[_TRANSIENT], row[_LOGS_PATH]) if listening else (row[0], row[1])
                )
                # Only the job's own file: an imported logs_path may name any file.
                if logs_path is not None and logs_path == str(self._logs.path_for(job_id)):
                    text = self._excerpt(job_id)
                    if text is not None:
                        row = conn.execute(
                            f"UPDATE jobs SET logs_excerpt = ? WHERE id = ? RETURNING {returning}",
                            (text, job_id),
                        ).fetchall()[0]
                retention = self._retention
                if transient and retention.removes_on_finish:
                    delete_jobs(conn, "?", (job_id,), outcome)
                retention.prune(conn, outcome, now=now, notify=listening)
            if listening and not transient:
                outcome.events.insert(0, ("CHANGED", job_id, row_to_job(row)))
            self._queue_events(outcome)
        self._after_commit(outcome)
        return True

    def _excerpt(self, job_id: int) -> str | None:
        """The log excerpt for a finishing job; None (and a logged error) if unreadable.

        A log that cannot be read must not keep the job from finishing.
        """
        try:
            return self._logs.excerpt(job_id)
        except OSError:
            logger.exception("could not read the log of job %s for its excerpt", job_id)
            return None

    @staticmethod
    def _refusal(conn: sqlite3.Connection, job_id: int, action: str, rule: str) -> Exception:
        """The error for a transition the guard refused: unknown id or wrong state."""
        row = conn.execute("SELECT state FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            return JobNotFound(f"job {job_id} does not exist")
        state = row[0]
        # Only abort refuses a RUNNING job, and only for not being abortable.
        detail = " and not abortable" if action == "abort" and state == "RUNNING" else ""
        return IllegalTransition(f"cannot {action} job {job_id}: it is {state}{detail}; {rule}")


def _listed(values: Any) -> Any:
    """Any iterable as a list, but text and mappings as they are (the model refuses them)."""
    if isinstance(values, list | str | bytes | bytearray | Mapping) or not isinstance(
        values, Iterable
    ):
        return values
    return list(values)


def _check_id(job_id: Any) -> int:
    if isinstance(job_id, bool) or not isinstance(job_id, int):
        raise JobNotFound(f"job ids are integers, not {job_id!r}")
    if not 0 <= job_id <= ID_MAX:  # no job has it (and SQLite could not bind most of them)
        raise JobNotFound(f"job {job_id} does not exist")
    return job_id


def _message(exc: BaseException) -> str:
    """An exception's message as storable text (its type's name if it has none)."""
    try:
        text = str(exc)
    except Exception:
        text = ""
    return jsoncodec.storable_text(text or type(exc).__name__)


def _percent(percent: Any) -> int:
    if isinstance(percent, bool) or not isinstance(percent, int | float):
        raise InvalidJob(f"progress percent must be a number, not {percent!r}")
    if isinstance(percent, float) and not math.isfinite(percent):
        raise InvalidJob(f"progress percent must be finite, not {percent!r}")
    value = math.floor(percent)
    jsoncodec.check_json_value(value, "progress.percent")
    return value


def _exc_info(exc: BaseException) -> dict[str, Any]:
    """``exc_info`` of a caught exception, in the shape TrueNAS records."""
    errno = _attribute(exc, "errno")
    extra = _attribute(exc, "extra")
    try:
        jsoncodec.dumps(extra, "exc_info.extra", depth=1)  # as stored, orjson included
    except jsoncodec.JSONValueError:
        extra = jsoncodec.storable_text(jsoncodec.safe_repr(extra))
    return {
        "repr": jsoncodec.storable_text(jsoncodec.safe_repr(exc)),
        "type": jsoncodec.storable_text(type(exc).__name__),
        "errno": errno if type(errno) is int and jsoncodec.fits_int64(errno) else None,
        "extra": extra,
    }


def _attribute(exc: BaseException, name: str) -> Any:
    """``exc.<name>``, or None when it is missing or reading it raises (a hostile property)."""
    try:
        return getattr(exc, name, None)
    except Exception:
        return None


def _describe(exc: ValidationError, where: str) -> str:
    first = exc.errors(include_url=False)[0]
    field = ".".join(str(part) for part in first["loc"])
    return f"{where}: {field + ': ' if field else ''}{first['msg']}"
