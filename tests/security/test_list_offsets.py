"""A list offset past any real list is refused (422 naming it), never handed to the database."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient


def test_an_offset_past_the_largest_list_is_a_422_naming_it_not_a_500(
        client: TestClient, auth: Callable[..., dict[str, str]]) -> None:
    headers = auth("suppressions:read")
    for offset in (10_000_001, 2**63):  # 2**63 once overflowed SQLite's integers
        answer = client.get("/v1/suppressions", params={"channel": "email", "offset": offset},
                            headers=headers)
        assert answer.status_code == 422 and "offset" in answer.text
    assert client.get("/v1/suppressions", params={"offset": 10_000_000}, headers=headers).json() == []
