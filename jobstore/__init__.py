"""jobstore: a persistent, queryable store of long-running jobs on SQLite."""

from __future__ import annotations

from .errors import (
    IllegalTransition,
    InvalidJob,
    JobNotFound,
    JobStoreError,
    MatchNotFound,
    PermissionDenied,
    QueryError,
    SchemaError,
    StoreBusy,
)
from .store import JobStore

__all__ = [
    "IllegalTransition",
    "InvalidJob",
    "JobNotFound",
    "JobStore",
    "JobStoreError",
    "MatchNotFound",
    "PermissionDenied",
    "QueryError",
    "SchemaError",
    "StoreBusy",
]

from .query.evaluate import filter_list

__all__ += ["filter_list"]
