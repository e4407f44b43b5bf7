"""Pydantic models of the job object (``job.schema.json``) and of query options."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .columns import TIMESTAMP_FIELDS
from .timeutil import normalize_timestamp

__all__ = [
    "FINISHED_STATES",
    "ID_MAX",
    "JOB_FIELDS",
    "ExcInfo",
    "Job",
    "JobCredentials",
    "JobState",
    "Progress",
    "QueryOptions",
]

JobState = Literal["WAITING", "RUNNING", "SUCCESS", "FAILED", "ABORTED"]
FINISHED_STATES: frozenset[str] = frozenset({"SUCCESS", "FAILED", "ABORTED"})
#: The highest job id: SQLite's largest rowid.
ID_MAX = 2**63 - 1

# revalidate_instances: a model instance handed to insert_many may have been
# changed after it was built (assignment is not validated), so it is checked again.
_STRICT = ConfigDict(extra="forbid", strict=True, frozen=False, revalidate_instances="always")


class Progress(BaseModel):
    """``progress``: how far a job has come."""

    model_config = _STRICT
    percent: int | None
    description: str | None
    extra: Any


class ExcInfo(BaseModel):
    """``exc_info``: the exception a failed job raised."""

    model_config = _STRICT
    repr: str | None
    type: str | None
    errno: int | None
    extra: Any


class JobCredentials(BaseModel):
    """``credentials`` stored on a job: who started it (``data.username`` owns it)."""

    model_config = _STRICT
    type: str
    data: dict[str, Any]


class Job(BaseModel):
    """One job, as in ``job.schema.json``; fields left out take a new job's defaults.

    Timestamps may be given as datetimes, ISO-8601 strings or ``{"$date": ms}``;
    they are stored in one fixed-width UTC form.
    """

    model_config = _STRICT
    id: int | None = None
    message_ids: list[Any] = Field(default_factory=list)
    method: str
    arguments: list[Any] = Field(default_factory=list)
    transient: bool = False
    description: str | None = None
    abortable: bool = False
    logs_path: str | None = None
    logs_excerpt: str | None = None
    progress: Progress = Field(
        default_factory=lambda: Progress(percent=None, description=None, extra=None)
    )
    result: Any = None
    result_encoding_error: Any = None
    error: str | None = None
    exception: str | None = None
    exc_info: ExcInfo | None = None
    state: JobState = "WAITING"
    time_started: str | None = None
    time_finished: str | None = None
    credentials: JobCredentials | None = None

    @field_validator(*sorted(TIMESTAMP_FIELDS), mode="before")
    @classmethod
    def _timestamp(cls, value: Any) -> str | None:
        return normalize_timestamp(value)


#: The job object's fields, in schema order (the key order of every returned job).
JOB_FIELDS: tuple[str, ...] = tuple(Job.model_fields)


class QueryOptions(BaseModel):
    """The ``options`` of a query, with the reference API's defaults."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
    extra: dict[str, Any] = Field(default_factory=dict)
    order_by: list[str] = Field(default_factory=list)
    select: list[str | list[str]] = Field(default_factory=list)
    count: bool = False
    get: bool = False
    offset: int = Field(default=0, ge=0)
    limit: int = Field(default=0, ge=0)
    force_sql_filters: bool = False
