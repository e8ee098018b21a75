"""Forged events from an events:write client, replayed: each is refused and nothing is stored.

A client could drive any rule with any type: a forged ``service_order.completed``
emailed a link to any address, a forged ``whatsapp.message_received`` passed
for a customer's message. Now a client sends only the types its allow-list
names, never a type only despacho or a signed webhook produces, and its
events carry its own source.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from store.models import Event
from tests.api.conftest import forge_token

FORGED_COMPLETION = {"type": "service_order.completed", "id": "evt-9",
                     "data": {"customer": {"email": "victim@example.com"}, "order": {"id": "o1"}}}


def token(make_client: Callable[..., tuple[str, str]], *, event_types: tuple[str, ...] = ("*",),
          name: str = "erp") -> tuple[str, dict[str, str]]:
    client_id, _ = make_client("events:write", name=name, event_types=event_types)
    return client_id, {"Authorization": f"Bearer {forge_token(sub=client_id, scope='events:write')}"}


def stored(engine: sa.Engine) -> list[tuple[str, str, str]]:
    with engine.connect() as connection:
        rows = connection.execute(sa.select(Event.__table__.c.id, Event.__table__.c.type,
                                            Event.__table__.c.source)).all()
    return [tuple(row) for row in rows]


def test_a_type_outside_the_clients_allow_list_is_refused_with_403_naming_the_field(
        client: TestClient, make_client: Callable[..., tuple[str, str]], db_engine: sa.Engine) -> None:
    client_id, headers = token(make_client, event_types=("invoice.*", "payment.received"))
    response = client.post("/v1/events", headers=headers, json=FORGED_COMPLETION)
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "event_type_not_allowed"
    assert error["message"].startswith(
        f"event.type: client {client_id} may not send 'service_order.completed'")
    assert error["details"]["allowed"] == ["invoice.*", "payment.received"]
    assert stored(db_engine) == []


def test_one_forged_event_in_a_batch_refuses_the_batch_naming_its_index(
        client: TestClient, make_client: Callable[..., tuple[str, str]], db_engine: sa.Engine) -> None:
    _, headers = token(make_client, event_types=("invoice.*",))
    batch = [{"type": "invoice.paid", "id": "ok-1"}, FORGED_COMPLETION]
    response = client.post("/v1/events", headers=headers, json=batch)
    assert response.status_code == 403
    assert response.json()["error"]["message"].startswith("events[1].type: ")
    assert stored(db_engine) == []


def test_a_client_given_no_event_types_may_send_none(
        client: TestClient, make_client: Callable[..., tuple[str, str]], db_engine: sa.Engine) -> None:
    _, headers = token(make_client, event_types=())
    response = client.post("/v1/events", headers=headers, json={"type": "invoice.paid"})
    assert response.status_code == 403
    assert "its event types: none" in response.json()["error"]["message"]
    assert stored(db_engine) == []


@pytest.mark.parametrize("event_type", ["whatsapp.message_received", "action.failed", "run.completed",
                                        "schedule"])
def test_a_type_only_despacho_or_a_signed_webhook_produces_is_refused_even_with_every_type_allowed(
        event_type: str, client: TestClient, make_client: Callable[..., tuple[str, str]],
        db_engine: sa.Engine) -> None:
    _, headers = token(make_client, event_types=("*",))
    forged = {"type": event_type, "data": {"from": "+5511999990000", "body": "cancel my order"}}
    response = client.post("/v1/events", headers=headers, json=forged)
    assert response.status_code == 422
    assert response.json()["error"]["message"].startswith(f"event.type: '{event_type}' events come only from")
    assert stored(db_engine) == []


@pytest.mark.parametrize("event_id", ["SM" + "0123456789abcdef" * 2, "invoice.overdue:inv-1:2026-12-05",
                                      "action.failed:step-1", "run.completed:run-1", "emit:r1:e1:0"])
def test_an_id_despacho_will_store_later_cannot_be_taken_first(
        event_id: str, client: TestClient, make_client: Callable[..., tuple[str, str]],
        db_engine: sa.Engine) -> None:
    _, headers = token(make_client)
    response = client.post("/v1/events", headers=headers, json={"type": "invoice.paid", "id": event_id})
    assert response.status_code == 422
    assert response.json()["error"]["message"].startswith("event.id: ids shaped like ")
    assert stored(db_engine) == []


@pytest.mark.parametrize(("source", "says"), [("despacho", "reserved for despacho's own records"),
                                              ("twilio", "reserved for the Twilio webhook"),
                                              ("rule:order-completed-summary", "reserved for event.emit"),
                                              ("billing", "this client's events carry the source 'erp'")])
def test_a_body_cannot_choose_its_source(
        source: str, says: str, client: TestClient, make_client: Callable[..., tuple[str, str]],
        db_engine: sa.Engine) -> None:
    _, headers = token(make_client)
    response = client.post("/v1/events", headers=headers, json={"type": "invoice.paid", "source": source})
    assert response.status_code == 422
    message = response.json()["error"]["message"]
    assert message.startswith("event.source: ") and says in message
    assert stored(db_engine) == []


def test_the_server_sets_the_clients_own_source(
        client: TestClient, make_client: Callable[..., tuple[str, str]], db_engine: sa.Engine) -> None:
    _, headers = token(make_client, name="Billing Omie")
    response = client.post("/v1/events", headers=headers, json={"type": "invoice.paid", "id": "evt-1"})
    assert response.status_code == 202
    assert stored(db_engine) == [("evt-1", "invoice.paid", "billing-omie")]


def test_narrowing_a_clients_allow_list_takes_effect_without_a_new_token(
        app: FastAPI, client: TestClient, make_client: Callable[..., tuple[str, str]],
        db_engine: sa.Engine) -> None:
    from store.api_clients import set_event_permissions
    from store.db import session_scope

    client_id, headers = token(make_client)
    assert client.post("/v1/events", headers=headers, json=FORGED_COMPLETION).status_code == 202
    with session_scope(db_engine) as session:
        set_event_permissions(session, client_id, event_types=["invoice.*"])
    app.state.ctx.clients.forget(client_id)  # what the cache's ttl (10 s) does by itself
    again = {**FORGED_COMPLETION, "id": "evt-10"}
    assert client.post("/v1/events", headers=headers, json=again).status_code == 403
