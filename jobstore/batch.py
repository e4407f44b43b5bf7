"""Validating a batch of incoming jobs (``insert_many``) into rows, with errors that name the job.

A bad job makes the whole batch fail with ``InvalidJob`` whose message starts
``job #<index in the batch>, field '<dotted path>': ...``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from pydantic import TypeAdapter, ValidationError

from .errors import InvalidJob
from .jsoncodec import JSONValueError
from .models import ID_MAX, Job
from .rows import job_to_row

__all__ = ["BatchError", "describe_validation_error", "encode_batch"]

_ADAPTER: TypeAdapter[list[Job]] = TypeAdapter(list[Job])


def describe_validation_error(exc: ValidationError, offset: int = 0, *, prefix: str = "") -> str:
    """One line for the first error of a pydantic error on a list of jobs."""
    first = exc.errors(include_url=False)[0]
    loc = first["loc"]
    where = _where(int(loc[0]) + offset, loc[1:]) if loc and isinstance(loc[0], int) else ""
    more = exc.error_count() - 1
    tail = f" (and {more} more error{'s' if more > 1 else ''})" if more > 0 else ""
    return f"{prefix}{where}{first['msg']}{tail}"


def _where(index: int, field: tuple[Any, ...]) -> str:
    if not field:
        return f"job #{index}: "
    path = ".".join(str(part) for part in field)
    return f"job #{index}, field {path!r}: "


def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class BatchError(InvalidJob):
    """A bad job in a batch; ``explicit`` holds the ids given to the jobs before it.

    So that ``insert_many`` can still report an earlier job whose id the store
    already holds: the error always names the first bad job.
    """

    def __init__(self, message: str, explicit: dict[int, int]) -> None:
        super().__init__(message)
        self.explicit = explicit


def encode_batch(
    jobs: Iterable[dict[str, Any] | Job], chunk_size: int = 50
) -> tuple[list[tuple[Any, ...]], dict[int, int]]:
    """Validate and encode every job; return the rows and ``{explicit id: index}``.

    Raises BatchError naming the first bad job's index and field, including a
    duplicate or out-of-range ``id`` within the batch.
    """
    rows: list[tuple[Any, ...]] = []
    explicit: dict[int, int] = {}
    offset = 0
    try:
        # Small chunks: their models die young. With 1000 per chunk enough of them
        # outlived a collection to set off full ones, each walking the caller's whole
        # history: a third of a 100k import's time went to the garbage collector.
        for chunk in _chunks(jobs, chunk_size):
            try:
                models = _ADAPTER.validate_python(chunk)
            except ValidationError as exc:
                # The schema error may come after a job whose values cannot be
                # stored (checked per model, below): that one is the first bad job.
                failing = exc.errors(include_url=False)[0]["loc"][0]
                if isinstance(failing, int) and failing > 0:
                    _encode(_ADAPTER.validate_python(chunk[:failing]), offset, rows, explicit)
                raise InvalidJob(describe_validation_error(exc, offset)) from None
            _encode(models, offset, rows, explicit)
            offset += len(chunk)
    except InvalidJob as exc:
        raise BatchError(str(exc), explicit) from None
    return rows, explicit


def _encode(
    models: list[Job], offset: int, rows: list[tuple[Any, ...]], explicit: dict[int, int]
) -> None:
    """Append the rows of validated jobs numbered from ``offset``; InvalidJob for a bad one."""
    for index, job in enumerate(models, start=offset):
        try:
            row = job_to_row(job)
        except JSONValueError as exc:
            field = exc.where.partition("[")[0].partition(".")[0]
            detail = exc.problem if exc.where == field else str(exc)
            raise InvalidJob(f"job #{index}, field {field!r}: {detail}") from None
        job_id = row[0]
        if job_id is not None:
            if not 1 <= job_id <= ID_MAX:
                raise InvalidJob(f"job #{index}, field 'id': {job_id} is not a positive 64-bit id")
            first = explicit.setdefault(job_id, index)
            if first != index:
                raise InvalidJob(
                    f"job #{index}, field 'id': id {job_id} is also given to job #{first}"
                )
        rows.append(row)
