"""Reading and aborting one job by id, under the same rules as ``get_jobs`` (QUERY.md §6).

Decision: a job the caller may not see is reported exactly like a job that
does not exist, ``JobNotFound`` with the same message. QUERY.md §6 forbids
telling a caller anything about a job it cannot see, and "job 7 exists (and is
someone else's)" is such a thing: answering ``PermissionDenied`` for it would
turn ``get_job`` into an oracle for other users' activity (how many jobs they
start, when). ``PermissionDenied`` is kept for a job the caller *can* see but
may not act on: a role granted read access to a method
(``AccessPolicy.allow_method_readers``) reads those jobs but cannot abort
them, since only the owner, ``FULL_ADMIN`` and internal callers may abort.
Revealing that such a job exists tells the caller nothing it could not read.

>>> from jobstore.access import AccessPolicy, Caller
>>> job = {"id": 1, "method": "m", "credentials": {"type": "t", "data": {"username": "bob"}}}
>>> check_abort(AccessPolicy(), Caller(username="alice", roles=[]), job, 1)
Traceback (most recent call last):
...
jobstore.errors.JobNotFound: job 1 does not exist
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .access import AccessPolicy, Caller, job_owner, redact_job
from .errors import JobNotFound, PermissionDenied
from .redaction import SecretsRegistry

__all__ = ["abort_guard", "check_abort", "check_visible", "not_found", "readable_job"]


def not_found(job_id: int) -> JobNotFound:
    """The one error for "no such job" and "not yours to see": identical text for both."""
    return JobNotFound(f"job {job_id} does not exist")


def check_visible(
    policy: AccessPolicy, caller: Caller | None, job: Mapping[str, Any] | None, job_id: int
) -> Mapping[str, Any]:
    """``job`` if ``caller`` may see it; else :func:`not_found` (also when ``job`` is None)."""
    if job is None or not policy.can_see(caller, job):
        raise not_found(job_id)
    return job


def readable_job(
    policy: AccessPolicy,
    secrets: SecretsRegistry,
    caller: Caller | None,
    job: Mapping[str, Any] | None,
    job_id: int,
    raw_result: bool | None = None,
) -> dict[str, Any]:
    """The job as ``get_jobs`` would return it to ``caller`` (with this ``extra.raw_result``)."""
    return redact_job(check_visible(policy, caller, job, job_id), caller, raw_result, secrets)


def may_abort(caller: Caller | None, job: Mapping[str, Any]) -> bool:
    """Internal callers and ``FULL_ADMIN`` abort any job; other callers only their own."""
    if caller is None or caller.is_admin:
        return True
    owner = job_owner(job)
    return owner is not None and owner == caller.username


def check_abort(
    policy: AccessPolicy, caller: Caller | None, job: Mapping[str, Any] | None, job_id: int
) -> None:
    """Raise unless ``caller`` may abort ``job``: JobNotFound if unseen, else PermissionDenied."""
    if not may_abort(caller, check_visible(policy, caller, job, job_id)):
        raise PermissionDenied(
            f"cannot abort job {job_id}: only its owner or a FULL_ADMIN caller may abort it"
        )


def abort_guard(caller: Caller | None) -> tuple[str, tuple[Any, ...]]:
    """An SQL condition (with its parameters) re-checking :func:`may_abort` in the UPDATE.

    The check before the UPDATE reads the job in another statement; repeating it
    in the guarded UPDATE means a job replaced in between is never aborted for
    the wrong caller. ``owner`` is the generated column equal to ``job_owner``.
    """
    if caller is None or caller.is_admin:
        return "", ()
    return " AND owner = ?", (caller.username,)
