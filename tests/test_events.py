"""Subscriptions: each subscriber gets exactly the events of the jobs it may see, redacted."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import pytest

from jobstore import JobStore, QueryError
from jobstore.events import Subscription
from tests.test_get_jobs_access import ADMIN, ALICE, BOB, EVE, SCRUB, VAULT, Login, owned

R = "********"


class Inbox:
    """A callback that records ``(kind, job)``."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, kind: str, job: dict[str, Any]) -> None:
        self.events.append((kind, job))

    def kinds(self) -> list[tuple[str, int]]:
        return [(kind, job["id"]) for kind, job in self.events]


@pytest.fixture
def store(tmp_path: Path) -> Any:
    with JobStore(tmp_path / "jobs.db", max_finished=2) as store:
        store.secrets.register(VAULT, result=Login, arguments=[Login])
        store.access.allow_method_readers(SCRUB, "AUDITOR")
        yield store


def test_each_subscriber_sees_its_jobs_in_get_jobs_form(store: JobStore) -> None:
    inboxes = {name: Inbox() for name in ("internal", "admin", "alice", "bob", "eve")}
    creds = {"internal": None, "admin": ADMIN, "alice": ALICE, "bob": BOB, "eve": EVE}
    for name, inbox in inboxes.items():
        store.subscribe(inbox, creds[name])
    a = store.create(VAULT, [{"user": "alice", "pin": "1111"}], credentials=owned("alice"))
    b = store.create(SCRUB, [{"passphrase": "pp"}], credentials=owned("bob"))
    s = store.create("system.update", [{"token": "t"}])
    store.start(a)
    store.succeed(a, {"user": "alice", "pin": "1111"})
    store.start(b)
    store.set_progress(b, 50)

    assert inboxes["alice"].kinds() == [("ADDED", a), ("CHANGED", a), ("CHANGED", a)]
    assert inboxes["bob"].kinds() == [("ADDED", b), ("CHANGED", b), ("CHANGED", b)]
    assert inboxes["eve"].kinds() == [("ADDED", b), ("CHANGED", b), ("CHANGED", b)]
    everything = [("ADDED", a), ("ADDED", b), ("ADDED", s), ("CHANGED", a), ("CHANGED", a),
                  ("CHANGED", b), ("CHANGED", b)]  # fmt: skip
    assert inboxes["admin"].kinds() == everything
    assert inboxes["internal"].kinds() == everything

    alice_done = inboxes["alice"].events[-1][1]
    assert alice_done["arguments"] == [{"user": "alice", "pin": R}]
    assert alice_done["result"] == {"user": "alice", "pin": R}
    assert alice_done == store.get_jobs([["id", "=", a]], {"get": True}, ALICE)
    internal_done = inboxes["internal"].events[4][1]
    assert internal_done["result"] == {"user": "alice", "pin": "1111"}
    assert internal_done["arguments"] == [{"user": "alice", "pin": "1111"}]
    assert inboxes["admin"].events[2][1]["arguments"] == [{"token": R}]
    assert inboxes["eve"].events[-1][1]["arguments"] == [{"passphrase": R}]
    assert inboxes["eve"].events[-1][1]["progress"]["percent"] == 50
    for inbox in inboxes.values():
        for _, job in inbox.events:
            assert "1111" not in repr(job) or inbox is inboxes["internal"]


def test_transient_jobs_send_nothing(store: JobStore) -> None:
    inbox, internal = Inbox(), Inbox()
    store.subscribe(inbox, ALICE)
    store.subscribe(internal)
    job_id = store.create("m", transient=True, credentials=owned("alice"))
    store.start(job_id)
    store.set_progress(job_id, 10)
    store.append_log(job_id, "line")
    store.succeed(job_id, {"password": "p"})
    store.insert_many([{"method": "m", "transient": True, "credentials": owned("alice")}])
    assert inbox.events == []
    assert internal.events == []


def test_pruning_sends_removed_in_last_known_redacted_form(store: JobStore) -> None:
    alice, bob = Inbox(), Inbox()
    store.subscribe(alice, ALICE)
    store.subscribe(bob, BOB)
    ids = []
    for _ in range(3):  # max_finished=2: the third finish prunes the first job
        job_id = store.create("m", credentials=owned("alice"))
        store.start(job_id)
        store.succeed(job_id, {"api_key": "k"})
        ids.append(job_id)
    removed = [job for kind, job in alice.events if kind == "REMOVED"]
    assert [job["id"] for job in removed] == [ids[0]]
    assert removed[0]["state"] == "SUCCESS"
    assert removed[0]["result"] == {"api_key": R}
    assert store.prune() == []
    assert bob.events == []


def test_a_raising_callback_breaks_neither_writer_nor_others(
    store: JobStore, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(kind: str, job: dict[str, Any]) -> None:
        raise RuntimeError("subscriber bug")

    before, after = Inbox(), Inbox()
    store.subscribe(before, ALICE)
    store.subscribe(broken, ALICE)
    store.subscribe(after, ALICE)
    with caplog.at_level(logging.ERROR, logger="jobstore"):
        job_id = store.create("m", credentials=owned("alice"))
        store.start(job_id)
        store.succeed(job_id, "ok")
    assert store.get_job(job_id)["state"] == "SUCCESS"
    assert before.kinds() == after.kinds() == [("ADDED", job_id)] + [("CHANGED", job_id)] * 2
    failures = [r for r in caplog.records if "subscriber bug" in (r.exc_text or "")]
    assert len(failures) == 3
    assert all(r.levelno == logging.ERROR for r in failures)


def test_unsubscribe_stops_delivery(store: JobStore) -> None:
    inbox = Inbox()
    subscription = store.subscribe(inbox, ALICE)
    assert isinstance(subscription, Subscription) and subscription.active
    first = store.create("m", credentials=owned("alice"))
    subscription.unsubscribe()
    subscription.unsubscribe()  # idempotent
    assert not subscription.active
    store.create("m", credentials=owned("alice"))
    assert inbox.kinds() == [("ADDED", first)]
    assert store._listeners == []

    other = Inbox()
    with store.subscribe(other) as handle:
        second = store.create("m")
    assert not handle.active
    store.create("m")
    assert other.kinds() == [("ADDED", second)]

    closing = Inbox()
    handle = store.subscribe(closing)
    handle.close()
    store.create("m")
    assert closing.events == []


def test_a_callback_may_unsubscribe_itself(store: JobStore) -> None:
    seen: list[str] = []
    handle: list[Subscription] = []

    def once(kind: str, job: dict[str, Any]) -> None:
        seen.append(kind)
        handle[0].unsubscribe()

    handle.append(store.subscribe(once))
    store.create("m")
    store.create("m")
    assert seen == ["ADDED"]


def test_subscribers_get_private_copies(store: JobStore) -> None:
    def vandal(kind: str, job: dict[str, Any]) -> None:
        job["result"]["nested"]["note"] = "vandalised"
        job["arguments"].append("junk")

    store.subscribe(vandal)
    alice = Inbox()
    store.subscribe(alice, ALICE)
    job_id = store.create("m", [1], credentials=owned("alice"))
    store.start(job_id)
    store.succeed(job_id, {"nested": {"token": "t", "note": "n"}})
    assert alice.events[-1][1]["result"] == {"nested": {"token": R, "note": "n"}}
    assert alice.events[-1][1]["arguments"] == [1]


def test_roles_granted_later_apply_to_later_events(store: JobStore) -> None:
    inbox = Inbox()
    store.subscribe(inbox, {"username": "zed", "roles": ["LATE"]})
    first = store.create("late.method", credentials=owned("bob"))
    store.access.allow_method_readers("late.method", "LATE")
    second = store.create("late.method", credentials=owned("bob"))
    assert inbox.kinds() == [("ADDED", second)]
    assert first != second


def test_bad_arguments_to_subscribe(store: JobStore) -> None:
    with pytest.raises(QueryError):
        store.subscribe(Inbox(), {"username": "alice"})
    with pytest.raises(TypeError):
        store.subscribe("not callable", None)  # type: ignore[arg-type]
    assert store._listeners == []


def test_subscribe_and_unsubscribe_during_delivery_from_threads(store: JobStore) -> None:
    """Writers and (un)subscribers race; nothing raises, and a closed handle stays silent."""
    errors: list[BaseException] = []
    stop = threading.Event()
    late: list[tuple[str, dict[str, Any]]] = []

    def writer() -> None:
        try:
            while not stop.is_set():
                job_id = store.create("m", credentials=owned("alice"))
                store.start(job_id)
                store.succeed(job_id, {"token": "t"})
        except BaseException as exc:
            errors.append(exc)

    def churn() -> None:
        try:
            for _ in range(200):
                inbox = Inbox()
                handle = store.subscribe(inbox, ALICE)
                handle.unsubscribe()
                count = len(inbox.events)
                # After unsubscribe returns, no delivery is in flight or can start.
                if len(inbox.events) != count:
                    late.extend(inbox.events[count:])
                for _, job in inbox.events:
                    assert job["result"] in (None, {"token": R})
        except BaseException as exc:
            errors.append(exc)

    writers = [threading.Thread(target=writer) for _ in range(2)]
    churners = [threading.Thread(target=churn) for _ in range(3)]
    for thread in writers + churners:
        thread.start()
    for thread in churners:
        thread.join()
    stop.set()
    for thread in writers:
        thread.join()
    assert errors == []
    assert late == []
    assert store._listeners == []
