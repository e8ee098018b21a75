"""``/v1/privacy`` and the access log of reads, through the real app on the demo company."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import sqlalchemy as sa
from fastapi.testclient import TestClient

from store.db import session_scope
from store.privacy.access import access_log
from tests.support.privacy import NAME, PHONE, build_world, reopen

AT = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def test_export_answers_with_the_persons_data_and_records_request_and_access(
        client: TestClient, auth: Callable[..., dict[str, str]], db_engine: sa.Engine) -> None:
    world = build_world(db_engine, AT)
    headers = {**auth("privacy:admin"), "X-Access-Reason": "pedido do titular por e-mail"}
    response = client.post("/v1/privacy/export", headers=headers, json={"person": "(11) 98765-4321"})
    assert response.status_code == 200
    body = response.json()
    assert body["customer_id"] == world.customer_id and body["result"]["customer"]["name"] == NAME
    listed = client.get("/v1/privacy/requests", headers=auth("privacy:admin")).json()["requests"]
    assert [(r["kind"], r["status"]) for r in listed] == [("export", "done")]
    with session_scope(db_engine) as session:
        (entry,) = access_log(session, world.customer_id)
        assert entry.details == {"what": "POST /v1/privacy/export", "reason": "pedido do titular por e-mail"}


def test_a_request_recorded_on_arrival_is_closed_by_serving_it(
        client: TestClient, auth: Callable[..., dict[str, str]], db_engine: sa.Engine) -> None:
    build_world(db_engine, AT)
    headers = auth("privacy:admin")
    opened = client.post("/v1/privacy/requests", headers=headers,
                         json={"kind": "processors", "person": PHONE, "notes": "ligou pedindo"})
    assert opened.status_code == 201 and opened.json()["status"] == "open"
    served = client.post("/v1/privacy/processors", headers=headers,
                         json={"person": PHONE, "request_id": opened.json()["id"]})
    assert served.json()["request"] == opened.json()["id"]
    assert "Twilio" in {u["processor"] for u in served.json()["result"]["processors"]}
    again = client.post("/v1/privacy/processors", headers=headers,
                        json={"person": PHONE, "request_id": opened.json()["id"]})
    assert again.status_code == 422 and again.json()["error"]["details"] == {"field": "request"}


def test_errors_name_the_field(client: TestClient, auth: Callable[..., dict[str, str]],
                               db_engine: sa.Engine) -> None:
    world = build_world(db_engine, AT)
    headers = auth("privacy:admin")
    unknown = client.post("/v1/privacy/export", headers=headers, json={"person": "+55 11 91234-0000"})
    not_a_person = client.post("/v1/privacy/export", headers=headers, json={"person": "nobody at all"})
    bad_phone = client.post("/v1/privacy/correct", headers=headers, json={"person": PHONE,
                                                                          "set": {"phone": "1"}})
    reopen(db_engine, world.order_id)
    open_orders = client.post("/v1/privacy/anonymise", headers=headers, json={"person": PHONE})
    assert unknown.status_code == 404
    assert not_a_person.status_code == 422 and not_a_person.json()["error"]["details"] == {"field": "person"}
    assert bad_phone.status_code == 422
    assert bad_phone.json()["error"]["details"] == {"field": "customer.phone"}
    assert open_orders.status_code == 422 and open_orders.json()["error"]["details"] == {"field": "person"}


def test_correct_and_anonymise_through_the_api(client: TestClient, auth: Callable[..., dict[str, str]],
                                               db_engine: sa.Engine) -> None:
    world = build_world(db_engine, AT)
    headers = auth("privacy:admin")
    corrected = client.post("/v1/privacy/correct", headers=headers,
                            json={"person": world.customer_id, "set": {"city": "Santos"}})
    anonymised = client.post("/v1/privacy/anonymise", headers=headers, json={"person": world.customer_id})
    assert corrected.json()["result"] == {"changed": ["city"]}
    assert anonymised.status_code == 200 and anonymised.json()["result"]["changed"]["customers"] == 1
    assert client.get(f"/v1/customers/{world.customer_id}", headers=auth("customers:read")).status_code == 404


def test_reading_a_customer_or_their_orders_is_in_their_access_log(
        client: TestClient, auth: Callable[..., dict[str, str]], db_engine: sa.Engine) -> None:
    world = build_world(db_engine, AT)
    headers = {**auth("customers:read", "orders:read")}
    assert client.get(f"/v1/customers/{world.customer_id}", headers=headers,
                      params={"reason": "confirmar endereço"}).status_code == 200
    assert client.get("/v1/service-orders", headers=headers,
                      params={"customer_id": world.customer_id}).status_code == 200
    assert client.get(f"/v1/service-orders/{world.order_id}", headers=headers).status_code == 200
    listed = client.post("/v1/privacy/access-log", headers=auth("privacy:admin"),
                         json={"person": world.customer_id})
    accesses = listed.json()["result"]["accesses"]
    assert [(a["what"], a["why"]) for a in accesses][::-1] == [
        ("GET /v1/customers/{id}", "confirmar endereço"), ("GET /v1/service-orders", None),
        ("GET /v1/service-orders/{id}", None)]
    assert all(a["who"].startswith("api_client:") for a in accesses)
