"""Rate limits: 429 with Retry-After and RateLimit-* headers, per client, per IP, on /v1/token,
and one budget shared by API processes through Redis."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import ApiSettings
from engine.settings import Settings
from tests.api.conftest import JWT_KEY, forge_token


def limited_client(settings: Settings, engine: sa.Engine, redis_url: str, **limits: str) -> TestClient:
    api = ApiSettings(jwt_keys=f"t1:{JWT_KEY}", rate_limit_storage=redis_url,
                      rate_limit_prefix=f"test-{uuid.uuid4().hex}", **limits)
    return TestClient(create_app(settings, api=api, engine=engine))


def test_a_client_over_its_limit_gets_429_with_retry_after_and_ratelimit_headers(
        settings: Settings, db_engine: sa.Engine, redis_url: str,
        make_client: Callable[..., tuple[str, str]]) -> None:
    client_id, _ = make_client("events:read")
    headers = {"Authorization": f"Bearer {forge_token(sub=client_id, scope='events:read')}"}
    with limited_client(settings, db_engine, redis_url, rate_limit="3/minute") as client:
        answers = [client.get("/v1/events", headers=headers) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a.headers["RateLimit-Remaining"] for a in answers[:3]] == ["2", "1", "0"]
    assert answers[0].headers["RateLimit-Limit"] == "3"
    refused = answers[3]
    assert refused.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60


def test_the_limit_is_per_client(settings: Settings, db_engine: sa.Engine, redis_url: str,
                                 make_client: Callable[..., tuple[str, str]]) -> None:
    tokens = [forge_token(sub=make_client("events:read")[0], scope="events:read") for _ in range(2)]
    with limited_client(settings, db_engine, redis_url, rate_limit="1/minute") as client:
        first = [client.get("/v1/events", headers={"Authorization": f"Bearer {t}"}) for t in tokens]
        again = client.get("/v1/events", headers={"Authorization": f"Bearer {tokens[0]}"})
    assert [a.status_code for a in first] == [200, 200]
    assert again.status_code == 429


def test_an_ip_over_its_limit_gets_429_even_without_a_token(settings: Settings, db_engine: sa.Engine,
                                                            redis_url: str) -> None:
    with limited_client(settings, db_engine, redis_url, ip_rate_limit="2/minute") as client:
        statuses = [client.get("/v1/events").status_code for _ in range(3)]
        health = client.get("/health")
    assert statuses == [401, 401, 429]
    assert health.status_code == 200  # probes are exempt


def test_the_token_endpoint_has_its_own_stricter_limit(settings: Settings, db_engine: sa.Engine,
                                                       redis_url: str) -> None:
    form = {"grant_type": "client_credentials", "client_id": "dc_x", "client_secret": "wrong"}
    with limited_client(settings, db_engine, redis_url, token_rate_limit="2/minute") as client:
        statuses = [client.post("/v1/token", data=form).status_code for _ in range(3)]
        other = client.get("/health")
    assert statuses == [401, 401, 429]
    assert other.status_code == 200


def token_form(client_id: str, secret: str) -> dict[str, str]:
    return {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}


def clients_from(settings: Settings, engine: sa.Engine, *peers: str, **limits: Any) -> list[TestClient]:
    """One app, one test client per peer address (the socket peer the app sees).

    The counters are in memory: Redis connections belong to one event loop, and each test client
    runs its own.
    """
    api = ApiSettings(jwt_keys=f"t1:{JWT_KEY}", rate_limit_storage="memory://", **limits)
    app = create_app(settings, api=api, engine=engine)
    return [TestClient(app, client=(peer, 40000)) for peer in peers]


def test_failed_token_requests_are_limited_per_client_and_ip_not_per_client(
        settings: Settings, db_engine: sa.Engine, make_client: Callable[..., tuple[str, str]]) -> None:
    client_id, secret = make_client("events:read")
    attacker, owner = clients_from(settings, db_engine, "198.51.100.7", "203.0.113.5",
                                   token_failure_limit="3/minute")
    guesses = [attacker.post("/v1/token", data=token_form(client_id, f"guess{n}")).status_code
               for n in range(4)]
    assert guesses == [401, 401, 401, 429]
    # even the right secret is refused from the guessing address for this client...
    assert attacker.post("/v1/token", data=token_form(client_id, secret)).status_code == 429
    # ...while the client's own caller, from its address, still gets its token
    assert owner.post("/v1/token", data=token_form(client_id, secret)).status_code == 200


def test_the_failure_budget_is_kept_in_redis_too(settings: Settings, db_engine: sa.Engine,
                                                 redis_url: str) -> None:
    with limited_client(settings, db_engine, redis_url, token_failure_limit="2/minute") as client:
        statuses = [client.post("/v1/token", data=token_form("dc_x", "wrong")).status_code for _ in range(3)]
    assert statuses == [401, 401, 429]


def test_successful_token_requests_do_not_spend_the_failure_budget(
        settings: Settings, db_engine: sa.Engine, make_client: Callable[..., tuple[str, str]]) -> None:
    client_id, secret = make_client("events:read")
    (caller,) = clients_from(settings, db_engine, "203.0.113.5", token_failure_limit="2/minute")
    statuses = [caller.post("/v1/token", data=token_form(client_id, secret)).status_code for _ in range(5)]
    assert statuses == [200] * 5


def test_the_failure_budget_of_one_client_id_leaves_other_client_ids_alone(
        settings: Settings, db_engine: sa.Engine, make_client: Callable[..., tuple[str, str]]) -> None:
    client_id, secret = make_client("events:read")
    (caller,) = clients_from(settings, db_engine, "203.0.113.5", token_failure_limit="1/minute")
    caller.post("/v1/token", data=token_form("dc_other", "x"))
    assert caller.post("/v1/token", data=token_form("dc_other", "x")).status_code == 429
    assert caller.post("/v1/token", data=token_form(client_id, secret)).status_code == 200


def test_behind_a_trusted_proxy_the_forwarded_address_is_what_is_limited(
        settings: Settings, db_engine: sa.Engine) -> None:
    (proxy,) = clients_from(settings, db_engine, "10.0.0.2", token_rate_limit="1/minute",
                            trusted_proxies=["10.0.0.0/8"])
    form = token_form("dc_x", "wrong")
    first = proxy.post("/v1/token", data=form, headers={"X-Forwarded-For": "198.51.100.1"})
    again = proxy.post("/v1/token", data=form, headers={"X-Forwarded-For": "198.51.100.1"})
    other = proxy.post("/v1/token", data=form, headers={"X-Forwarded-For": "198.51.100.2"})
    assert [first.status_code, again.status_code, other.status_code] == [401, 429, 401]


def test_a_caller_that_is_no_trusted_proxy_cannot_escape_its_limit_with_x_forwarded_for(
        settings: Settings, db_engine: sa.Engine) -> None:
    (caller,) = clients_from(settings, db_engine, "198.51.100.7", token_rate_limit="2/minute",
                             trusted_proxies=["10.0.0.0/8"])
    statuses = [caller.post("/v1/token", data=token_form("dc_x", "wrong"),
                            headers={"X-Forwarded-For": f"192.0.2.{n}"}).status_code for n in range(3)]
    assert statuses == [401, 401, 429]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def two_api_processes(tmp_path: Path, db_url: str, redis_url: str) -> Iterator[list[str]]:
    config = tmp_path / "config.yaml"
    config.write_text(f"database:\n  url: {db_url}\n", encoding="utf-8")
    (tmp_path / "rules").mkdir()  # the API's engine core loads the (here empty) rule set
    env = {k: v for k, v in os.environ.items() if not k.startswith("DESPACHO_")}
    env.update(DESPACHO_CONFIG=str(config), DESPACHO_API__JWT_KEYS=f"t1:{JWT_KEY}",
               DESPACHO_API__RATE_LIMIT="4/minute", DESPACHO_API__RATE_LIMIT_STORAGE=redis_url,
               DESPACHO_API__RATE_LIMIT_PREFIX=f"test-{uuid.uuid4().hex}")
    ports = [free_port(), free_port()]
    processes = [subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "api.server:app_from_environment", "--factory",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for port in ports]
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    try:
        for url, process in zip(urls, processes, strict=True):
            wait_until_serving(url, process)
        yield urls
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=10)


def wait_until_serving(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the API process exited: {process.stdout.read().decode() if process.stdout else ''}")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    pytest.fail(f"{url} did not start within 30 s")


def test_the_limit_is_shared_across_two_api_processes_through_redis(
        two_api_processes: list[str], make_client: Callable[..., tuple[str, str]]) -> None:
    client_id, _ = make_client("events:read")
    headers = {"Authorization": f"Bearer {forge_token(sub=client_id, scope='events:read')}"}
    first, second = two_api_processes
    statuses = [httpx.get(f"{url}/v1/events", headers=headers, timeout=10).status_code
                for url in (first, second, first, second, first, second)]
    # 4 per minute in all: two from each process, then both refuse
    assert statuses == [200, 200, 200, 200, 429, 429]


def test_in_memory_windows_count_until_they_expire_and_expired_ones_are_dropped(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    from api.ratelimit import MemoryWindows, RateLimiter

    limiter = RateLimiter("async+memory://")
    assert isinstance(limiter.storage, MemoryWindows)
    now = [1000.0]
    monkeypatch.setattr(time, "time", lambda: now[0])

    async def scenario() -> None:
        windows = limiter.storage
        assert [await windows.incr("k", 60) for _ in range(3)] == [1, 2, 3]
        assert await windows.get("k") == 3 and await windows.get_expiry("k") == 1060.0
        now[0] = 1060.0  # the window is over: a new one starts
        assert await windows.get("k") == 0
        assert await windows.incr("k", 60) == 1 and await windows.get_expiry("k") == 1120.0
        monkeypatch.setattr(MemoryWindows, "PRUNE_AT", 2)
        fresh = MemoryWindows()
        await fresh.incr("a", 10)
        await fresh.incr("b", 10)
        now[0] += 10  # both over; the next new key drops them
        await fresh.incr("c", 10)
        assert set(fresh._windows) == {"c"}

    asyncio.run(scenario())
