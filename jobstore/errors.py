"""The one error hierarchy of jobstore: everything the library raises on purpose."""

from __future__ import annotations

import sqlite3

__all__ = [
    "IllegalTransition",
    "InvalidJob",
    "JobNotFound",
    "JobStoreError",
    "MatchNotFound",
    "PermissionDenied",
    "QueryError",
    "SchemaError",
    "StoreBusy",
]


class JobStoreError(Exception):
    """Base class of every error jobstore raises deliberately."""


class QueryError(JobStoreError, ValueError):
    """Malformed filters or options; raised before any job is read."""


class MatchNotFound(JobStoreError, LookupError):
    """``options.get`` was set and no job matched."""


class JobNotFound(JobStoreError, LookupError):
    """No job has the given id (or the caller may not see it)."""


class IllegalTransition(JobStoreError, ValueError):
    """A lifecycle call that the job's current state does not allow."""


class InvalidJob(JobStoreError, ValueError):
    """A job (or a value for one of its fields) does not fit the job schema."""


class PermissionDenied(JobStoreError, PermissionError):
    """The caller's credentials do not allow this operation on this job."""


class SchemaError(JobStoreError):
    """The database file has a schema this version cannot open or migrate."""


class StoreBusy(JobStoreError, sqlite3.OperationalError):
    """Another connection kept the database locked longer than the busy timeout allowed.

    Also an ``sqlite3.OperationalError``, as the "database is locked" it stands for.
    """
