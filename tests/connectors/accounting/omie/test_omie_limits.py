"""Omie's limits enforced across workers through the real local Redis (and in memory when alone)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator

import pytest

from connectors.accounting.omie import OmieAdapter
from connectors.accounting.omie_limits import OmieLimiter
from errors import TransientError
from tests.conftest import REPO
from tests.fakes.omie import FakeOmie
from tests.fakes.ports import free_port
from tests.support.redis_server import shared_redis, unique_namespace

Make = Callable[..., OmieAdapter]


@pytest.fixture
def redis_url() -> str:
    return shared_redis()


@pytest.fixture
def namespace(redis_url: str) -> Iterator[str]:
    import redis

    prefix = unique_namespace()
    yield prefix
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)


def limiter(url: str | None, prefix: str, **overrides: object) -> OmieLimiter:
    values: dict[str, object] = {"redis_url": url, "app_key": "1234567890123", "per_minute": 960,
                                 "per_method_minute": 240, "concurrent": 4, "lease": 10.0, "max_wait": 0.2,
                                 "prefix": prefix}
    values.update(overrides)
    return OmieLimiter(**values)  # type: ignore[arg-type]


def hold(lim: OmieLimiter, method: str, started: threading.Event, release: threading.Event) -> None:
    with lim.slot(method):
        started.set()
        release.wait(5)


def test_two_workers_share_the_concurrent_slots_of_a_method(redis_url: str, namespace: str) -> None:
    workers = [limiter(redis_url, namespace, concurrent=2), limiter(redis_url, namespace, concurrent=2)]
    release = threading.Event()
    threads = []
    for lim in workers:  # one slot taken by each worker: the method's two are gone
        started = threading.Event()
        thread = threading.Thread(target=hold, args=(lim, "IncluirContaReceber", started, release))
        thread.start()
        assert started.wait(5)
        threads.append(thread)
    try:
        with pytest.raises(TransientError, match="slot") as caught, workers[0].slot("IncluirContaReceber"):
            pass
        assert caught.value.retry_after is not None and caught.value.retry_after <= 1.0
        with workers[1].slot("ListarContasReceber"):  # another method has slots of its own
            pass
    finally:
        release.set()
        for thread in threads:
            thread.join(5)
    with workers[0].slot("IncluirContaReceber"):  # released: free again
        pass


def test_a_waiting_call_gets_the_slot_when_a_holder_finishes_within_the_bound(redis_url: str,
                                                                               namespace: str) -> None:
    first, second = limiter(redis_url, namespace, concurrent=1), limiter(redis_url, namespace, concurrent=1,
                                                                          max_wait=5.0)
    started, release = threading.Event(), threading.Event()
    thread = threading.Thread(target=hold, args=(first, "UpsertCliente", started, release))
    thread.start()
    assert started.wait(5)
    threading.Timer(0.2, release.set).start()
    with second.slot("UpsertCliente"):
        assert release.is_set()
    thread.join(5)


HOLDER = textwrap.dedent("""
    import sys, time
    from connectors.accounting.omie_limits import OmieLimiter
    lim = OmieLimiter(redis_url=sys.argv[1], app_key="1234567890123", per_minute=960, per_method_minute=240,
                      concurrent=1, lease=1.0, prefix=sys.argv[2])
    with lim.slot("LancarRecebimento"):
        print("held", flush=True)
        time.sleep(60)
""")


def test_a_dead_worker_slot_expires_with_its_lease(redis_url: str, namespace: str) -> None:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, redis_url, namespace], cwd=REPO,
                            stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        proc.send_signal(signal.SIGKILL)  # dies holding the only slot, never releasing it
        proc.wait(5)
        blocked = limiter(redis_url, namespace, concurrent=1, max_wait=0.05)
        with pytest.raises(TransientError), blocked.slot("LancarRecebimento"):
            pass
        with limiter(redis_url, namespace, concurrent=1, max_wait=3.0).slot("LancarRecebimento"):
            pass  # taken once the dead holder's one-second lease ran out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


def test_the_per_minute_budget_is_shared_by_workers(redis_url: str, namespace: str) -> None:
    one, two = limiter(redis_url, namespace, per_minute=5), limiter(redis_url, namespace, per_minute=5)
    for lim in (one, two, one, two, one):
        with lim.slot("ListarClientes"):
            pass
    with pytest.raises(TransientError, match="5 calls per minute") as caught, two.slot("ListarClientes"):
        pass
    assert caught.value.retry_after is not None and 0 < caught.value.retry_after <= 60


def test_the_per_method_budget_leaves_other_methods_alone(redis_url: str, namespace: str) -> None:
    lim = limiter(redis_url, namespace, per_method_minute=2)
    for _ in range(2):
        with lim.slot("ConsultarOS"):
            pass
    with pytest.raises(TransientError, match="ConsultarOS calls per minute"), lim.slot("ConsultarOS"):
        pass
    with lim.slot("IncluirOS"):
        pass


def test_memory_slots_expire_with_their_lease_too() -> None:
    lim = limiter(None, "unused", concurrent=1, lease=0.1, max_wait=2.0)
    lim._semaphore.try_acquire("FaturarOS", "dead-worker")  # taken and never released
    with lim.slot("FaturarOS"):
        pass


def test_redis_down_is_a_transient_failure_never_an_unlimited_call() -> None:
    lim = limiter(f"redis://127.0.0.1:{free_port()}/0", "down")
    with pytest.raises(TransientError, match="unavailable"), lim.slot("ListarClientes"):
        pass


def test_workers_sharing_redis_never_exceed_omie_concurrency(make_adapter: Make, omie: FakeOmie,
                                                             redis_url: str, namespace: str) -> None:
    omie.slow(0.15)
    adapters = [make_adapter(limiter=limiter(redis_url, namespace, max_wait=10.0)) for _ in range(3)]
    errors: list[Exception] = []

    def run(adapter: OmieAdapter) -> None:
        try:
            adapter.check()
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(adapters[n % 3],)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert errors == [] and omie.refused_concurrent == 0
    assert omie.max_in_flight["ListarClientes"] == 4


def test_without_the_shared_limit_omie_refuses_the_fifth_call(make_adapter: Make, omie: FakeOmie) -> None:
    omie.slow(0.3)
    refused: list[TransientError] = []
    barrier = threading.Barrier(6)

    def run() -> None:
        adapter = make_adapter(concurrent_per_method=10, sleeps=[])  # each its own, too generous, limiter
        barrier.wait(5)
        try:
            adapter.check()
        except TransientError as exc:
            refused.append(exc)

    threads = [threading.Thread(target=run) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert omie.refused_concurrent >= 2 and len(refused) >= 1
    assert all(exc.retry_after is not None for exc in refused)
