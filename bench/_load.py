"""A small keep-alive HTTP/1.1 load generator (asyncio streams; httpx would be the bottleneck).

Run as a separate process: python bench/_load.py PORT TOKEN SECONDS CONNECTIONS; prints JSON.
Every request posts one event with a fresh id.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time


async def worker(port: int, token: str, until: float, latencies: list[float], prefix: str,
                 errors: list[int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    n = 0
    while time.perf_counter() < until:
        n += 1
        body = json.dumps({"type": "bench.event", "id": f"{prefix}-{n}", "data": {"n": n}}).encode()
        head = (f"POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                f"Authorization: Bearer {token}\r\nContent-Length: {len(body)}\r\n\r\n").encode()
        started = time.perf_counter()
        writer.write(head + body)
        await writer.drain()
        status_line = await reader.readline()
        length = 0
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
        await reader.readexactly(length)
        latencies.append(time.perf_counter() - started)
        status = int(status_line.split()[1])
        if status != 202:
            errors.append(status)
    writer.close()


async def main(port: int, token: str, seconds: float, connections: int) -> dict[str, float]:
    latencies: list[float] = []
    errors: list[int] = []
    started = time.perf_counter()
    until = started + seconds
    run = f"{time.time_ns()}"
    await asyncio.gather(*(worker(port, token, until, latencies, f"{run}-{i}", errors)
                           for i in range(connections)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {"requests": len(latencies), "per_second": len(latencies) / elapsed,
            "p50_ms": latencies[len(latencies) // 2] * 1000,
            "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000, "errors": len(errors),
            "error_statuses": sorted(set(errors))[:5]}


if __name__ == "__main__":
    port, token, seconds, connections = int(sys.argv[1]), sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
    print(json.dumps(asyncio.run(main(port, token, seconds, connections))))
