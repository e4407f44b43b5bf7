"""Who may see which job, and which of its fields come back redacted (QUERY.md §6).

The pieces the store and the query compiler put together:

- :class:`Caller` — parsed ``get_jobs`` credentials (``None`` is an internal caller);
- :class:`AccessPolicy` — one per store: :meth:`~AccessPolicy.can_see` is the Python
  reference of visibility, :meth:`~AccessPolicy.visibility` the same rule as a
  small value the SQL compiler turns into a ``WHERE`` clause;
- :func:`redacted_roots` — the job fields a caller sees redacted, so filters and
  order keys on them run on the redacted job (in Python), never on raw values;
- :func:`redact_job` — the job as the caller may see it.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

from pydantic import BaseModel, ConfigDict, StrictStr, ValidationError, field_validator

from .errors import QueryError
from .jsoncodec import has_utf8_form
from .redaction import RedactionError, SecretsRegistry, redact_arguments, redact_result

__all__ = [
    "ADMIN_ROLE",
    "AccessPolicy",
    "Caller",
    "Visibility",
    "job_owner",
    "redact_job",
    "redacted_roots",
    "view_redacted_roots",
]

#: The role that sees every job. Compared exactly: "full_admin" is not it.
ADMIN_ROLE = "FULL_ADMIN"


class Caller(BaseModel):
    """An external caller of ``get_jobs``: a username and its roles.

    >>> Caller.parse({"username": "alice", "roles": ["READONLY"]}).is_admin
    False
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    username: StrictStr
    roles: frozenset[StrictStr]

    @field_validator("username")
    @classmethod
    def _non_empty(cls, value: str) -> str:
        # An empty name would "own" every job stored with an empty username.
        if not value:
            raise ValueError("must not be empty")
        # It is bound as an SQL parameter, which must encode as UTF-8.
        if not value.isascii() and not has_utf8_form(value):
            raise ValueError("must be valid Unicode text (no lone surrogates)")
        return value

    @field_validator("roles", mode="before")
    @classmethod
    def _collection(cls, value: Any) -> Any:
        # A bare string would otherwise be read as the set of its characters.
        if not isinstance(value, list | tuple | set | frozenset):
            raise ValueError("must be a list of role names")
        return value

    @property
    def is_admin(self) -> bool:
        """True if the caller holds ``FULL_ADMIN`` (exact, case-sensitive)."""
        return ADMIN_ROLE in self.roles

    @classmethod
    def parse(cls, credentials: object) -> Caller | None:
        """Read ``get_jobs`` credentials: ``None`` (internal caller), a Caller or a dict.

        Anything else, including ``{}`` and dicts with missing, extra or mistyped
        keys, raises :class:`~jobstore.QueryError`: malformed credentials are a bad
        argument of the query, refused before any job is read. Only ``None`` means
        "internal"; no falsy or partial value is ever taken for it.
        """
        if credentials is None or isinstance(credentials, Caller):
            return credentials
        if not isinstance(credentials, Mapping):
            raise QueryError(
                "credentials must be None or {'username': str, 'roles': [str, ...]},"
                f" not {type(credentials).__name__}"
            )
        try:
            return cls.model_validate(dict(credentials))
        except ValidationError as exc:
            # Name the fields and problems, never echo the values given.
            problems = "; ".join(
                f"{'.'.join(map(str, err['loc'])) or 'credentials'}: {err['msg']}"
                for err in exc.errors(include_url=False, include_input=False)
            )
            raise QueryError(f"malformed credentials: {problems}") from None


def job_owner(job: Mapping[str, Any]) -> str | None:
    """The username that owns ``job``: ``credentials.data.username`` if it is a string.

    The store's generated column ``owner`` must compute exactly this (NULL otherwise).
    """
    credentials = job.get("credentials")
    if not isinstance(credentials, Mapping):
        return None
    data = credentials.get("data")
    if not isinstance(data, Mapping):
        return None
    username = data.get("username")
    return username if isinstance(username, str) else None


@dataclasses.dataclass(frozen=True, slots=True)
class Visibility:
    """The jobs a restricted caller sees: ``owner = username OR method IN methods``.

    ``owner`` is the generated column holding :func:`job_owner` (NULL when the job has
    no string username, so such jobs match only through ``methods``). An empty
    ``methods`` means the ``IN`` term is dropped, not written as ``IN ()``.
    Hashable, so it can be part of a compile-cache key.
    """

    username: str
    methods: frozenset[str] = frozenset()

    def allows(self, owner: str | None, method: object) -> bool:
        """The Python form of the clause, on one job's owner and method."""
        return (owner is not None and owner == self.username) or (
            isinstance(method, str) and method in self.methods
        )


class AccessPolicy:
    """Which jobs each caller sees; one per store.

    Beyond QUERY.md §6, a role can be allowed to read every job of one method
    (e.g. an auditor role for ``pool.scrub``).

    >>> policy = AccessPolicy()
    >>> policy.allow_method_readers("pool.scrub", "AUDITOR")
    >>> policy.visibility(Caller(username="eve", roles=["AUDITOR"]))
    Visibility(username='eve', methods=frozenset({'pool.scrub'}))
    """

    def __init__(self, method_readers: Mapping[str, Iterable[str]] | None = None) -> None:
        self._lock = threading.Lock()
        # Replaced, never mutated, so readers on other threads need no lock.
        self._readers: Mapping[str, frozenset[str]] = MappingProxyType({})
        for method, roles in (method_readers or {}).items():
            for role in roles:
                self.allow_method_readers(method, role)

    def allow_method_readers(self, method: str, role: str) -> None:
        """Let callers holding ``role`` read every job of ``method`` (exact names)."""
        for name, value in (("method", method), ("role", role)):
            if not isinstance(value, str) or not value or not has_utf8_form(value):
                raise ValueError(f"{name} must be a non-empty string, not {value!r}")
        with self._lock:
            readers = dict(self._readers)
            readers[method] = readers.get(method, frozenset()) | {role}
            self._readers = MappingProxyType(readers)

    def readable_methods(self, caller: Caller) -> frozenset[str]:
        """The methods whose every job ``caller`` may read through a role."""
        return frozenset(m for m, roles in self._readers.items() if roles & caller.roles)

    def visibility(self, caller: Caller | None) -> Visibility | None:
        """None if ``caller`` sees every job, else the :class:`Visibility` restricting it."""
        if caller is None or caller.is_admin:
            return None
        return Visibility(caller.username, self.readable_methods(caller))

    def can_see(self, caller: Caller | None, job: Mapping[str, Any]) -> bool:
        """True if ``caller`` may see ``job`` at all (the reference for the SQL filter)."""
        if caller is None or caller.is_admin:
            return True
        owner = job_owner(job)
        if owner is not None and owner == caller.username:
            return True
        method = job.get("method")
        if not isinstance(method, str):
            return False
        roles = self._readers.get(method)
        return roles is not None and not roles.isdisjoint(caller.roles)


_NONE: frozenset[str] = frozenset()
# A redacted result may also change result_encoding_error (when the result
# cannot be redacted), so filters and order keys on it run on the redacted job too.
_RESULT: frozenset[str] = frozenset({"result", "result_encoding_error"})
_ARGUMENTS: frozenset[str] = frozenset({"arguments"})
_BOTH: frozenset[str] = _ARGUMENTS | _RESULT


def redacted_roots(caller: Caller | None, raw_result: bool | None) -> frozenset[str]:
    """The job fields ``caller`` sees redacted in its own jobs, given ``extra.raw_result``.

    ``raw_result`` is None when absent. Internal callers: the result fields
    (``result`` and ``result_encoding_error``) only if ``raw_result`` is False.
    External callers: ``{"arguments"}`` if ``raw_result`` is True, else
    ``arguments`` and the result fields. Any other ``raw_result`` (``1``,
    ``"true"``) is a :class:`~jobstore.QueryError`, not a guess.
    """
    if raw_result is not None and not isinstance(raw_result, bool):
        raise QueryError(f"extra.raw_result must be a boolean, not {type(raw_result).__name__}")
    if caller is None:
        return _RESULT if raw_result is False else _NONE
    return _ARGUMENTS if raw_result is True else _BOTH


def view_redacted_roots(
    caller: Caller | None, raw_result: bool | None, reads_others: bool
) -> frozenset[str]:
    """The fields to keep out of SQL for a whole query: redacted in any job it returns.

    ``reads_others``: a non-admin caller that also sees jobs it does not own
    (a method reader). ``raw_result`` unlocks only its own jobs' results
    (QUERY.md §6), so the result is raw in some rows and redacted in others.
    """
    roots = redacted_roots(caller, raw_result)
    if reads_others and caller is not None and not caller.is_admin:
        return roots | _RESULT
    return roots


def _job_roots(
    job: Mapping[str, Any], caller: Caller | None, raw_result: bool | None
) -> frozenset[str]:
    """The fields ``caller`` sees redacted in ``job``: raw results only in its own jobs."""
    roots = redacted_roots(caller, raw_result)
    if (
        "result" not in roots
        and caller is not None
        and not caller.is_admin
        and job_owner(job) != caller.username
    ):
        return roots | _RESULT
    return roots


def _redaction_failure(exc: Exception) -> str:
    # Only our own messages are shown: they never quote the value. Anything else
    # (which redact_result should not let through) is named by its type alone.
    reason = str(exc) if isinstance(exc, RedactionError) else type(exc).__name__
    return f"result could not be redacted: {reason}"


def redact_job(
    job: Mapping[str, Any],
    caller: Caller | None,
    raw_result: bool | None,
    registry: SecretsRegistry | None,
) -> dict[str, Any]:
    """A new job dict as ``caller`` may see it (``job`` itself is left unchanged).

    Fields named by :func:`redacted_roots` are redacted, and the result of a job
    a non-admin caller does not own (one a method reader sees) whatever
    ``raw_result`` says. A result that cannot be
    redacted comes back as ``None`` with ``result_encoding_error`` set to a string
    saying why; the raw value is never returned in its place. Unchanged values are
    shared with ``job``, not copied.
    """
    roots = _job_roots(job, caller, raw_result)
    out = dict(job)
    if not roots:
        return out
    method = job.get("method")
    if "arguments" in roots and "arguments" in out:
        out["arguments"] = redact_arguments(method, out["arguments"], registry)
    if "result" in roots and "result" in out:
        try:
            out["result"] = redact_result(method, out["result"], registry)
        except Exception as exc:  # whatever went wrong, the raw result must not go out
            out["result"] = None
            out["result_encoding_error"] = _redaction_failure(exc)
    return out
