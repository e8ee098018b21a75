"""Local hand-off: a process's own free threads take the steps it queued; the broker takes the rest."""

from __future__ import annotations

import threading
import time

from engine.runtime.local import LocalFirst, LocalSteps


class Broker:
    def __init__(self) -> None:
        self.sent: list[tuple[list[str], int, bool]] = []

    def __call__(self, step_ids: list[str], delay_ms: int, urgent: bool = False) -> None:
        self.sent.append((step_ids, delay_ms, urgent))


class Blocking:
    """A ``run_steps`` whose runs wait until released; records which thread ran each batch."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.ran: list[tuple[list[str], str]] = []
        self.started = threading.Semaphore(0)

    def __call__(self, step_ids: list[str]) -> None:
        self.started.release()
        self.release.wait(5)
        self.ran.append((step_ids, threading.current_thread().name))


def wait_for(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_a_due_batch_runs_on_a_local_thread_and_never_reaches_the_broker() -> None:
    ran: list[tuple[list[str], str]] = []
    local = LocalSteps(lambda ids: ran.append((ids, threading.current_thread().name)), threads=2)
    broker = Broker()
    local.start()
    LocalFirst(local, broker)(["s1", "s2"], 0)
    wait_for(lambda: len(ran) == 1)
    local.stop(5)
    assert ran[0][0] == ["s1", "s2"] and ran[0][1].startswith("despacho-local-")
    assert broker.sent == []


def test_when_every_thread_is_busy_the_batch_goes_to_the_broker() -> None:
    run = Blocking()
    local = LocalSteps(run, threads=1)
    broker = Broker()
    local.start()
    send = LocalFirst(local, broker)
    send(["a"], 0)
    assert run.started.acquire(timeout=5)  # the one thread is taken
    send(["b"], 0, urgent=True)
    assert broker.sent == [(["b"], 0, True)]
    run.release.set()
    local.stop(5)
    assert [ids for ids, _ in run.ran] == [["a"]]


def test_a_delayed_batch_always_goes_to_the_broker() -> None:
    local = LocalSteps(lambda ids: None, threads=2)
    broker = Broker()
    local.start()
    LocalFirst(local, broker)(["later"], 30_000)
    local.stop(5)
    assert broker.sent == [(["later"], 30_000, False)]


def test_nothing_is_handed_over_before_start_or_after_stop() -> None:
    local = LocalSteps(lambda ids: None, threads=2)
    assert local.offer(["x"]) is False
    local.start()
    local.stop(5)
    assert local.offer(["x"]) is False


def test_broker_messages_and_local_batches_share_the_threads_slots() -> None:
    run = Blocking()
    local = LocalSteps(run, threads=1)
    local.start()
    broker_thread = threading.Thread(target=local.run_from_broker, args=(["from-broker"],))
    broker_thread.start()
    assert run.started.acquire(timeout=5)  # the broker's batch holds the only slot
    assert local.offer(["local"]) is False
    run.release.set()
    broker_thread.join(5)
    local.stop(5)
    assert [ids for ids, _ in run.ran] == [["from-broker"]]


def test_a_broker_message_waiting_for_a_slot_is_not_overtaken_by_local_batches() -> None:
    run = Blocking()
    local = LocalSteps(run, threads=1)
    local.start()
    assert local.offer(["first"])
    assert run.started.acquire(timeout=5)
    waiting = threading.Thread(target=local.run_from_broker, args=(["from-broker"],))
    waiting.start()
    wait_for(lambda: local._broker_waiting == 1)
    assert local.offer(["late"]) is False  # the waiting message goes first
    run.release.set()
    waiting.join(5)
    local.stop(5)
    assert [ids for ids, _ in run.ran] == [["first"], ["from-broker"]]


def test_stop_runs_the_batches_already_handed_over() -> None:
    run = Blocking()
    local = LocalSteps(run, threads=2)
    local.start()
    assert local.offer(["one"]) and local.offer(["two"])
    run.release.set()
    local.stop(5)
    assert sorted(ids[0] for ids, _ in run.ran) == ["one", "two"]


def test_a_failing_batch_frees_its_slot() -> None:
    calls: list[list[str]] = []

    def run(ids: list[str]) -> None:
        calls.append(ids)
        raise RuntimeError("boom")

    local = LocalSteps(run, threads=1)
    local.start()
    assert local.offer(["bad"])
    wait_for(lambda: len(calls) == 1)
    wait_for(lambda: local.offer(["next"]))
    local.stop(5)
    assert calls[:2] == [["bad"], ["next"]]
