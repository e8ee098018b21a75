"""A made-up HTTP method is one label and one audit value ("OTHER"), never the client's text.

The HTTP parser takes any token as a method: each one became a new metrics
series (memory without bound) and, up to 16 KB long, an audit row PostgreSQL
refused.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI
from fastapi.testclient import TestClient

from store.audit import REQUEST_ACTION, query_entries
from store.db import session_scope


def test_made_up_methods_share_one_metrics_label_and_are_audited_as_other(
        app: FastAPI, client: TestClient, auth: Callable[..., dict[str, str]]) -> None:
    methods = [f"M{n}X" + "Y" * 300 for n in range(20)]
    for method in methods:
        assert client.request(method, "/v1/events").status_code == 405
    metrics = client.get("/metrics", headers=auth("metrics:read")).text
    assert "YYYY" not in metrics
    assert 'method="OTHER",route="/v1/events",status="405"} 20.0' in metrics
    app.state.ctx.audit.flush()
    with session_scope(app.state.ctx.engine) as session:
        entries = query_entries(session, action=REQUEST_ACTION, entity_id="OTHER /v1/events")
        assert len(entries) == 20
        assert {e.details["method"] for e in entries} == {"OTHER"}
