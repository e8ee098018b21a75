"""api.middleware.body_limit: 413 for a body over api.max_body_bytes, declared or chunked."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

LIMIT = 1_048_576  # the default api.max_body_bytes the fixtures run with


def chunks(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    yield b'{"type": "a.b", "data": {"blob": "'
    sent = 0
    while sent < total:
        yield b"x" * size
        sent += size
    yield b'"}}'


def test_a_declared_length_over_the_limit_is_413(client: TestClient,
                                                  auth: Callable[..., dict[str, str]]) -> None:
    response = client.post("/v1/events", headers={**auth("events:write"), "Content-Type": "application/json"},
                           content=b"x" * (LIMIT + 1))
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


@pytest.mark.parametrize(("path", "content_type"), [
    ("/v1/customers", "application/json"),  # a pydantic body: FastAPI answered 400 for the failed read
    ("/v1/events", "application/json"),
    ("/v1/token", "application/x-www-form-urlencoded"),
])
def test_a_chunked_body_over_the_limit_is_413_not_400(client: TestClient, auth: Callable[..., dict[str, str]],
                                                      path: str, content_type: str) -> None:
    response = client.post(path, headers={**auth("admin"), "Content-Type": content_type},
                           content=chunks(2 * LIMIT))
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


def test_a_chunked_body_within_the_limit_is_accepted(client: TestClient,
                                                     auth: Callable[..., dict[str, str]]) -> None:
    response = client.post("/v1/events", headers={**auth("events:write"), "Content-Type": "application/json"},
                           content=chunks(1024, size=1024))
    assert response.status_code == 202
