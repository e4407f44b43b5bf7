"""Change events delivered in the order their changes were committed.

Writers on several threads commit one after the other (SQLite serialises
them), but each then went on to call the listeners on its own: a thread that
committed a finish could be overtaken by one whose retention deleted that job,
and a subscriber saw REMOVED before the last CHANGED. Here a writer holds
``ordered()`` from before its commit until its events are queued, so the
queue is in commit order, and ``deliver()`` hands the queue to the listeners
one event at a time, on whichever writing thread gets there first; every
writer returns only once its own events have been delivered.

A listener that writes to the store from inside its callback queues its
events behind the one being delivered (never in the middle of it).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections import deque
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

__all__ = ["Delivery", "Listener"]

logger = logging.getLogger(__name__)

#: ``listener(kind, job_id, job)``: kind is "ADDED", "CHANGED" or "REMOVED".
Listener = Callable[[str, int, "dict[str, Any] | None"], None]

_UNORDERED: AbstractContextManager[None] = contextlib.nullcontext()


class Delivery:
    """The event queue of one store, feeding ``listeners`` (a list others append to)."""

    def __init__(self, listeners: list[Listener]) -> None:
        self.listeners = listeners
        self._commit_order = threading.Lock()
        self._queue: deque[tuple[str, int, dict[str, Any] | None]] = deque()
        self._delivering = threading.Lock()
        self._local = threading.local()

    def ordered(self) -> AbstractContextManager[Any]:
        """Hold around a write whose events you will ``put``: from before its commit to the put.

        Free when nobody listens: the lifecycle without subscribers takes no lock.
        """
        return self._commit_order if self.listeners else _UNORDERED

    def put(self, kind: str, job_id: int, job: dict[str, Any] | None) -> None:
        """Queue a committed change (call inside ``ordered()``)."""
        self._queue.append((kind, job_id, job))

    def deliver(self) -> None:
        """Hand every queued event to the listeners, in order; returns when the queue is empty.

        Another thread already delivering makes this wait, then find the queue
        empty or finish it. A call from inside a listener returns at once: the
        delivery under way goes on with the new events after the current one.
        """
        if not self._queue or getattr(self._local, "active", False):
            return
        with self._delivering:
            self._local.active = True
            try:
                while self._queue:
                    self._notify(*self._queue.popleft())
            finally:
                self._local.active = False

    def _notify(self, kind: str, job_id: int, job: dict[str, Any] | None) -> None:
        for listener in list(self.listeners):
            try:
                listener(kind, job_id, job)
            except Exception:
                logger.exception(
                    "job store listener %r failed on %s of job %s", listener, kind, job_id
                )
