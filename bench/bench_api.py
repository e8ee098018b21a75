"""POST /v1/events with a valid token vs a bare FastAPI endpoint checking the same JWT, same setup.

Run: .venv/bin/python bench/bench_api.py [--seconds 10] [--connections 16] [--rounds 3] [--database-url URL]
Each server is one uvicorn process (one worker); the load generator is another
process (bench/_load.py). The real endpoint authenticates (JWT, client still
active, scope), rate-limits (in memory), audits the request and stores the
event in the database; the bare one checks the same token with PyJWT and
validates a pydantic body (bench/_api_apps.py). Both servers stay up and are
loaded in turn, ``--rounds`` times, so a neighbour's burst on a shared machine
hits both alike; the figures are medians, printed as ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from api.scopes import SCOPES  # noqa: E402
from api.tokens import TokenService  # noqa: E402
from store.api_clients import create_client  # noqa: E402
from store.db import make_engine, session_scope  # noqa: E402
from store.keyring import parse_keys  # noqa: E402
from store.migrate import upgrade  # noqa: E402

JWT_KEY = "bench-" + "k" * 40


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start(factory: str, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "uvicorn", factory, "--factory", "--port", str(port),
                                "--log-level", "warning", "--no-access-log"], env=env, cwd=ROOT)
    for _ in range(300):
        try:
            httpx.get(f"http://127.0.0.1:{port}/docs", timeout=1)
            return process, port
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit(f"{factory} did not start")


def load(port: int, token: str, seconds: float, connections: int) -> dict[str, float]:
    done = subprocess.run([sys.executable, str(ROOT / "bench/_load.py"), str(port), token, str(seconds),
                           str(connections)], capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3, help="load each server this many times, in turn")
    parser.add_argument("--database-url", default=None, help="default: a SQLite file in a temp folder")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/bench.db"
        upgrade(url)
        engine = make_engine(url)
        with session_scope(engine) as session:
            made = create_client(session, "bench", ["events:write"], known_scopes=SCOPES,
                                 event_types=["*"])
        engine.dispose()
        keys = f"b1:{JWT_KEY}"
        # one token, valid for both servers (the same key, issuer and audience)
        token = TokenService(parse_keys(keys, "keys"), issuer="despacho", audience="despacho-api",
                             ttl=3600).issue(made.client.key_prefix, frozenset({"events:write"}))
        env = {k: v for k, v in os.environ.items() if not k.startswith("DESPACHO_")}
        # limits are counted (in memory) but set high enough never to refuse the load
        env.update(PYTHONPATH=str(ROOT), DESPACHO_DATABASE__URL=url, DESPACHO_API__JWT_KEYS=keys,
                   DESPACHO_API__RATE_LIMIT="100000000/minute",
                   DESPACHO_API__IP_RATE_LIMIT="100000000/minute",
                   DESPACHO_API__RATE_LIMIT_STORAGE="memory://",
                   DESPACHO_CONFIG=str(ROOT / "config.example.yaml"))
        servers = {name: start(factory, env) for name, factory in
                   (("bare", "bench._api_apps:bare_app"), ("api", "bench._api_apps:real_app"))}
        results: dict[str, list[dict[str, float]]] = {"bare": [], "api": []}
        try:
            for _, port in servers.values():
                load(port, token, min(2.0, args.seconds), args.connections)  # warm-up
            for _ in range(args.rounds):
                for name, (_, port) in servers.items():
                    results[name].append(load(port, token, args.seconds, args.connections))
        finally:
            for process, _ in servers.values():
                process.terminate()
                process.wait(timeout=30)
    bare, api = (_median(results[name]) for name in ("bare", "api"))
    errors = sum(r["errors"] for r in results["api"]) + sum(r["errors"] for r in results["bare"])
    statuses = sorted({s for r in results["api"] + results["bare"] for s in r["error_statuses"]})
    print(f"database: {url.split(':')[0]}; {args.connections} connections, {args.rounds} rounds of "
          f"{args.seconds:g} s per server, taken in turn; 1 uvicorn worker; medians")
    print(f"bare FastAPI + JWT 202: {bare['per_second']:8.0f} req/s   p50 {bare['p50_ms']:6.2f} ms   "
          f"p99 {bare['p99_ms']:6.2f} ms")
    print(f"POST /v1/events:        {api['per_second']:8.0f} ev/s    p50 {api['p50_ms']:6.2f} ms   "
          f"p99 {api['p99_ms']:6.2f} ms   non-202 (both): {errors} {statuses}")
    print(f"throughput ratio (api / bare): {api['per_second'] / bare['per_second']:.2f}")
    print(f"p99 ratio (api / bare):        {api['p99_ms'] / bare['p99_ms']:.2f}")
    print("rounds (req/s, p99 ms): " + "; ".join(
        f"bare {b['per_second']:.0f} {b['p99_ms']:.1f} / api {a['per_second']:.0f} {a['p99_ms']:.1f}"
        for b, a in zip(results["bare"], results["api"], strict=True)))


def _median(runs: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(r[key] for r in runs) for key in ("per_second", "p50_ms", "p99_ms")}


if __name__ == "__main__":
    main()
