"""Change subscriptions: job events delivered as a given caller may see them.

A :class:`Subscription` sits on the store's internal change hook (``_listeners``)
and turns each committed change into ``callback(kind, job)``, where ``kind`` is
``"ADDED"``, ``"CHANGED"`` or ``"REMOVED"`` and ``job`` is exactly what
``get_jobs`` would return to the subscriber's credentials (QUERY.md §6):

- only jobs the caller may see (``AccessPolicy.can_see``, evaluated per event,
  so roles granted later apply at once);
- redacted as with no ``extra.raw_result`` (``redact_job(..., raw_result=None)``);
- a REMOVED event carries the job as it was when deleted (its last known form),
  redacted the same way and only if the caller could see it. If the store had
  no copy of the deleted job (a listener added in the middle of a prune), only
  callers who see every job are told, with ``{"id": job_id}``: for anyone else
  we could not tell whether the job was theirs.

Transient jobs send no events (the store never reports them). Each subscriber
gets its own deep copy, so a callback that mutates its job cannot change what
another subscriber (or the store) sees. Events arrive in the order their
changes were committed, also when several threads write (``jobstore.delivery``),
and a write returns once its events have been delivered.

>>> from jobstore import JobStore
>>> store = JobStore(":memory:")
>>> seen = []
>>> with store.subscribe(lambda kind, job: seen.append((kind, job["method"]))):
...     _ = store.create("pool.scrub")
>>> seen
[('ADDED', 'pool.scrub')]
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any

import orjson

from .access import Caller, redact_job

if TYPE_CHECKING:
    from .store import JobStore

__all__ = ["EVENT_KINDS", "Callback", "Subscription", "subscribe"]

logger = logging.getLogger(__name__)

#: The kinds of change a callback receives.
EVENT_KINDS: frozenset[str] = frozenset({"ADDED", "CHANGED", "REMOVED"})

#: ``callback(kind, job)``: ``job`` is in the subscriber's redacted JSON form.
Callback = Callable[[str, "dict[str, Any]"], None]


class Subscription:
    """A registered callback; ``unsubscribe()`` (or ``close()``, or leaving ``with``) ends it.

    Deliveries to one subscription never overlap: they are serialised by a
    lock, which ``unsubscribe`` also takes, so once ``unsubscribe`` returns no
    callback is running or will start (called from inside the callback itself,
    it returns at once and no further event is delivered). Do not call
    ``unsubscribe`` while holding a lock that the callback needs.
    """

    def __init__(self, store: JobStore, callback: Callback, caller: Caller | None) -> None:
        if not callable(callback):
            raise TypeError(f"callback must be callable, not {type(callback).__name__}")
        self._store = store
        self._callback = callback
        self.caller = caller
        # Reentrant: the callback may unsubscribe itself while delivery holds the lock.
        self._lock = threading.RLock()
        self._active = True
        store._listeners.append(self._on_change)

    @property
    def active(self) -> bool:
        """False once unsubscribed."""
        return self._active

    def unsubscribe(self) -> None:
        """Stop delivery; idempotent."""
        with self._lock:
            if not self._active:
                return
            self._active = False
        # Already gone if someone cleared the store's listener list.
        with contextlib.suppress(ValueError):
            self._store._listeners.remove(self._on_change)

    close = unsubscribe

    def __enter__(self) -> Subscription:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.unsubscribe()

    def __repr__(self) -> str:
        who = "internal" if self.caller is None else repr(self.caller.username)
        state = "active" if self._active else "closed"
        return f"<Subscription {who} {state} {self._callback!r}>"

    # -- delivery ----------------------------------------------------------

    def _on_change(self, kind: str, job_id: int, job: dict[str, Any] | None) -> None:
        """The store's listener: filter, copy, redact, deliver; never raises."""
        if not self._active:
            return  # cheap exit before any copying
        try:
            visible = self._visible_form(kind, job_id, job)
        except Exception:
            # Redaction failing closed must not break the writer: the event is dropped.
            logger.exception("subscription %r could not prepare %s of job %s", self, kind, job_id)
            return
        if visible is None:
            return
        with self._lock:
            if not self._active:
                return
            try:
                self._callback(kind, visible)
            except Exception:
                logger.exception(
                    "subscription callback %r failed on %s of job %s",
                    self._callback, kind, job_id,
                )  # fmt: skip

    def _visible_form(
        self, kind: str, job_id: int, job: dict[str, Any] | None
    ) -> dict[str, Any] | None:
        """The job as this subscriber may see it, or None if it may not."""
        caller = self.caller
        sees_all = caller is None or caller.is_admin
        if job is None:
            return {"id": job_id} if kind == "REMOVED" and sees_all else None
        if not self._store.access.can_see(caller, job):
            return None
        # A private deep copy: redact_job shares unchanged sub-values with its input.
        private = orjson.loads(orjson.dumps(job))
        return redact_job(private, caller, None, self._store.secrets)


def subscribe(store: JobStore, callback: Callback, credentials: Any = None) -> Subscription:
    """Deliver ``store``'s changes to ``callback`` as ``credentials`` may see them.

    ``credentials`` as for ``get_jobs``: None (internal), a dict or an
    ``access.Caller``; malformed ones raise ``QueryError`` now, not per event.
    """
    return Subscription(store, callback, Caller.parse(credentials))
