"""The step messages on each shared broker: a delay holds a message back, a resumed step skips the
backlog."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator

import dramatiq
import pytest
from dramatiq.brokers.rabbitmq import RabbitmqBroker

from engine.runtime.broker import StepSender, declare_step_actors, make_broker
from tests.support.brokers import SHARED_BROKERS, shared_broker


class Recorder:
    """The step runner's stand-in: notes each batch of step ids with the time it ran."""

    def __init__(self, pause: float = 0.0) -> None:
        self.pause = pause
        self.seen: list[tuple[float, list[str]]] = []
        self.lock = threading.Lock()

    def __call__(self, step_ids: list[str]) -> None:
        time.sleep(self.pause)
        with self.lock:
            self.seen.append((time.monotonic(), step_ids))

    def ids(self) -> list[str]:
        with self.lock:
            return [step_id for _, ids in self.seen for step_id in ids]


@pytest.fixture(params=SHARED_BROKERS)
def broker(request: pytest.FixtureRequest) -> Iterator[dramatiq.Broker]:
    with shared_broker(request.param) as settings:
        made = make_broker(settings.url, namespace=settings.namespace)
        try:
            yield made
        finally:
            made.close()


def run_worker(broker: dramatiq.Broker, recorder: Recorder, until: int, seconds: float = 20) -> None:
    declare_step_actors(broker, recorder)
    worker = dramatiq.Worker(broker, worker_threads=1, worker_timeout=20)
    worker.start()
    try:
        deadline = time.monotonic() + seconds
        while len(recorder.ids()) < until and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.2)  # a message delivered twice would show up
    finally:
        worker.stop(timeout=5000)


def test_an_amqp_url_makes_a_rabbitmq_broker_that_waits_for_confirms() -> None:
    broker = make_broker("amqp://guest:guest@127.0.0.1:5672/%2F")
    assert isinstance(broker, RabbitmqBroker) and broker.confirm_delivery


def test_a_delayed_message_arrives_after_its_delay(broker: dramatiq.Broker) -> None:
    recorder = Recorder()
    sent = time.monotonic()
    StepSender(broker)(["later"], delay_ms=1500)
    StepSender(broker)(["now"], delay_ms=0)
    run_worker(broker, recorder, until=2)
    arrivals = {ids[0]: at - sent for at, ids in recorder.seen}
    assert arrivals["now"] < 1.5 <= arrivals["later"] < 10


def test_a_resumed_step_does_not_wait_behind_the_backlog(broker: dramatiq.Broker) -> None:
    """Its own queue: it waits behind at most what the worker already fetched, not the 20 queued."""
    recorder = Recorder(pause=0.05)
    send = StepSender(broker)
    for index in range(20):
        send([f"backlog-{index}"], delay_ms=0)
    send(["resumed"], delay_ms=0, urgent=True)
    run_worker(broker, recorder, until=21)
    order = recorder.ids()
    assert len(order) == 21 and order.index("resumed") < 5



def test_closing_a_rabbitmq_broker_whose_connection_is_gone_logs_no_error(
        caplog: pytest.LogCaptureFixture) -> None:
    with shared_broker("rabbitmq") as settings:
        broker = make_broker(settings.url)
        broker.connection.close()  # type: ignore[attr-defined]  # as RabbitMQ does to an idle publisher
        with caplog.at_level(logging.ERROR):
            broker.close()
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
