"""Runs and dead letters in the console: search, a run's trace with secrets masked, retry and discard."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import Session

from store.audit import query_entries
from store.db import session_scope
from store.models.events import Event
from store.models.runs import DeadLetter, RuleRun, RuleStep
from store.types import utcnow


@pytest.fixture
def history(db_engine: sa.Engine) -> Iterator[None]:
    now = utcnow()
    with session_scope(db_engine) as session:
        session.add(Event(id="e1", type="service_order.assigned", source="erp", occurred_at=now,
                          payload={"customer": {"id": "c-maria", "name": "Maria Souza"}}))
        session.add(Event(id="e2", type="invoice.paid", source="erp", occurred_at=now,
                          payload={"invoice": {"customer_id": "c-joao"}}))
        session.flush()
        session.add(RuleRun(id="run-a", rule_id="notify", event_id="e1", status="failed", created_at=now,
                            trace={"conditions": [{"clause": "data.customer.phone != ''", "held": True}]}))
        session.add(RuleRun(id="run-b", rule_id="sync", event_id="e2", status="succeeded",
                            created_at=now - timedelta(minutes=1)))
        session.flush()
        session.add(RuleStep(id="s-1", run_id="run-a", position=0, action="http.request", status="dead",
                             attempts=5, idempotency_key="k1", last_error="503 <script>x</script>",
                             params={"url": "https://h.example/hook?token=abc123",
                                     "headers": {"Authorization": "Bearer abc123"}}))
        session.flush()
        session.add(DeadLetter(id="dl-1", step_id="s-1", rule_id="notify", event_id="e1",
                               action="http.request", error="503", attempts=5))
    yield


def _ids(html: str) -> set[str]:
    return {run for run in ("run-a", "run-b") if f"/console/execucoes/{run}" in html}


@pytest.mark.usefixtures("history")
def test_runs_are_searched_by_rule_event_customer_and_status(browser: TestClient, viewer: str) -> None:
    assert _ids(browser.get("/console/execucoes").text) == {"run-a", "run-b"}
    assert _ids(browser.get("/console/execucoes?rule=sync").text) == {"run-b"}
    assert _ids(browser.get("/console/execucoes?event=service_order.assigned").text) == {"run-a"}
    assert _ids(browser.get("/console/execucoes?customer=c-joao").text) == {"run-b"}
    assert _ids(browser.get("/console/execucoes?customer=maria").text) == {"run-a"}
    assert _ids(browser.get("/console/execucoes?status=failed").text) == {"run-a"}


@pytest.mark.usefixtures("history")
def test_a_runs_trace_masks_secrets_and_escapes_errors(browser: TestClient, viewer: str) -> None:
    html = browser.get("/console/execucoes/run-a").text
    assert "abc123" not in html and "***" in html
    assert "&lt;script&gt;" in html and "<script>x" not in html
    assert "data.customer.phone" in html
    assert 'value="reprocessar"' not in html  # a viewer gets no buttons


@pytest.mark.usefixtures("history")
def test_an_admin_retries_a_dead_letter_and_it_is_audited(browser: TestClient, admin: str,
                                                          db_engine: sa.Engine) -> None:
    answer = browser.post("/console/execucoes/cartas",
                          data={"csrf_token": admin, "ids": "dl-1", "acao": "reprocessar"})
    assert answer.status_code == 303
    with Session(db_engine) as session:
        letter = session.get(DeadLetter, "dl-1")
        step = session.get(RuleStep, "s-1")
        assert letter is not None and letter.resolution == "reprocessed" and letter.resolved_by == "user:ana"
        assert step is not None and step.status == "queued"
        assert [e.action for e in query_entries(session, actor="user:ana", action="dead_letters.retry")]


@pytest.mark.usefixtures("history")
def test_an_admin_discards_a_dead_letter(browser: TestClient, admin: str, db_engine: sa.Engine) -> None:
    browser.post("/console/execucoes/cartas", data={"csrf_token": admin, "ids": "dl-1", "acao": "descartar"})
    with Session(db_engine) as session:
        letter = session.get(DeadLetter, "dl-1")
        assert letter is not None and letter.resolution == "discarded"


@pytest.mark.usefixtures("history")
def test_a_viewer_cannot_retry_a_dead_letter(browser: TestClient, viewer: str, db_engine: sa.Engine) -> None:
    answer = browser.post("/console/execucoes/cartas",
                          data={"csrf_token": viewer, "ids": "dl-1", "acao": "reprocessar"})
    assert answer.status_code == 403
    with Session(db_engine) as session:
        letter = session.get(DeadLetter, "dl-1")
        assert letter is not None and letter.resolved_at is None


@pytest.mark.usefixtures("history")
def test_dead_letters_are_listed(browser: TestClient, admin: str) -> None:
    html = browser.get("/console/execucoes/cartas").text
    assert "http.request" in html and 'value="dl-1"' in html
