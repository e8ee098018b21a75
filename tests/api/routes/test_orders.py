"""Service orders through the API: creation, life-cycle transitions, assignment, appointments."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

ALL = ("admin",)


def setup_order(client: TestClient, headers: dict[str, str]) -> dict:
    customer = client.post("/v1/customers", headers=headers, json={"name": "Maria"}).json()
    client.post("/v1/technicians", headers=headers,
                json={"name": "João", "region": "sp-sul", "skills": ["eletrica"]})
    response = client.post("/v1/service-orders", headers=headers,
                           json={"customer_id": customer["id"], "region": "sp-sul",
                                 "required_skills": ["eletrica"], "amount": "250.00"})
    assert response.status_code == 201
    return response.json()


def test_an_order_is_assigned_and_moves_along_its_life_cycle(client: TestClient,
                                                             auth: Callable[..., dict[str, str]]) -> None:
    headers = auth(*ALL)
    order = setup_order(client, headers)
    assert order["status"] == "open" and order["amount"] == "250.00"
    assigned = client.post(f"/v1/service-orders/{order['id']}/assign", headers=headers, json={})
    assert assigned.status_code == 200 and assigned.json()["status"] == "assigned"
    moved = client.post(f"/v1/service-orders/{order['id']}/status", headers=headers,
                        json={"status": "in_progress"})
    assert moved.json()["previous_status"] == "assigned" and moved.json()["changed"] is True
    events = client.get("/v1/events", headers=headers, params={"type": "service_order.assigned"}).json()
    assert len(events["items"]) == 1


def test_an_illegal_transition_is_409_with_the_allowed_targets(client: TestClient,
                                                               auth: Callable[..., dict[str, str]]) -> None:
    headers = auth(*ALL)
    order = setup_order(client, headers)
    response = client.post(f"/v1/service-orders/{order['id']}/status", headers=headers,
                           json={"status": "completed"})
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "illegal_transition"
    assert error["details"]["allowed"] == ["assigned", "cancelled", "on_hold"]


def test_no_eligible_technician_is_409_with_its_code(client: TestClient,
                                                     auth: Callable[..., dict[str, str]]) -> None:
    headers = auth(*ALL)
    customer = client.post("/v1/customers", headers=headers, json={"name": "Maria"}).json()
    order = client.post("/v1/service-orders", headers=headers,
                        json={"customer_id": customer["id"], "region": "nowhere"}).json()
    response = client.post(f"/v1/service-orders/{order['id']}/assign", headers=headers)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "no_eligible_technician"


def test_an_order_for_an_unknown_customer_is_422(client: TestClient,
                                                 auth: Callable[..., dict[str, str]]) -> None:
    response = client.post("/v1/service-orders", headers=auth(*ALL),
                           json={"customer_id": "nope", "region": "sp"})
    assert response.status_code == 422
    assert response.json()["error"]["details"] == {"field": "service_order.customer_id"}


def test_appointments_are_created_and_listed_by_order(client: TestClient,
                                                      auth: Callable[..., dict[str, str]]) -> None:
    headers = auth(*ALL)
    order = setup_order(client, headers)
    body = {"order_id": order["id"], "starts_at": "2026-12-01T12:00:00Z", "ends_at": "2026-12-01T14:00:00Z"}
    assert client.post("/v1/appointments", headers=headers, json=body).status_code == 201
    backwards = {**body, "ends_at": "2026-12-01T11:00:00Z"}
    assert client.post("/v1/appointments", headers=headers, json=backwards).status_code == 422
    page = client.get("/v1/appointments", headers=headers, params={"order_id": order["id"]}).json()
    assert len(page["items"]) == 1
