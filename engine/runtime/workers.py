"""Dramatiq workers running steps: in-process threads (embedded) or Redis-fed (production)."""

from __future__ import annotations

from collections.abc import Callable

import dramatiq

from engine.runtime.broker import declare_actors, make_broker
from engine.runtime.pipeline import Pipeline


def _no_result(run_steps: Callable[[list[str]], object]) -> Callable[[list[str]], None]:
    # Dramatiq warns about actors that return values without a results backend.
    def run(step_ids: list[str]) -> None:
        run_steps(step_ids)

    return run


class StepQueue:
    """The broker side of a pipeline: ``send`` puts a step id on the queue."""

    def __init__(self, pipeline: Pipeline, broker_url: str, namespace: str = "despacho") -> None:
        self.broker = make_broker(broker_url, namespace=namespace)
        self.actor = declare_actors(self.broker, _no_result(pipeline.run_steps), pipeline.step_exhausted)
        pipeline.send = self.send

    def send(self, step_ids: list[str], delay_ms: int) -> None:
        self.actor.send_with_options(args=(step_ids,), delay=delay_ms or None)


class Workers:
    """Worker threads consuming the step queue of this process's broker."""

    def __init__(self, queue: StepQueue, threads: int) -> None:
        self.queue = queue
        # A short worker_timeout keeps the first message after an idle spell from waiting a second.
        self.worker = dramatiq.Worker(queue.broker, worker_threads=threads, worker_timeout=100)

    def start(self) -> None:
        self.worker.start()

    def stop(self, timeout_s: float) -> None:
        """In-flight steps get ``timeout_s`` to finish; anything left is requeued from the database."""
        self.worker.stop(timeout=int(timeout_s * 1000))
        self.queue.broker.close()
