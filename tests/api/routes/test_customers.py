"""Customers and technicians: CRUD, cursor pagination, filters, sorting, soft delete."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient


def test_a_customer_is_created_normalised_read_changed_and_soft_deleted(
        client: TestClient, auth: Callable[..., dict[str, str]]) -> None:
    headers = auth("customers:write", "customers:read")
    created = client.post("/v1/customers", headers=headers,
                          json={"name": "Maria Souza", "phone": "(11) 98765-4321", "tier": "premium"})
    assert created.status_code == 201
    customer = created.json()
    assert customer["phone"] == "+5511987654321"
    patched = client.patch(f"/v1/customers/{customer['id']}", headers=headers, json={"city": "Santos"})
    assert patched.json()["city"] == "Santos" and patched.json()["tier"] == "premium"
    assert client.delete(f"/v1/customers/{customer['id']}", headers=headers).status_code == 204
    assert client.get(f"/v1/customers/{customer['id']}", headers=headers).status_code == 404
    assert client.get("/v1/customers", headers=headers).json()["items"] == []


def test_a_value_the_store_refuses_is_422_naming_the_field(client: TestClient,
                                                           auth: Callable[..., dict[str, str]]) -> None:
    response = client.post("/v1/customers", headers=auth("customers:write"),
                           json={"name": "X", "phone": "123"})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_failed" and error["details"] == {"field": "customer.phone"}


def test_unknown_fields_are_refused(client: TestClient, auth: Callable[..., dict[str, str]]) -> None:
    response = client.post("/v1/customers", headers=auth("customers:write"), json={"name": "X", "nmae": "Y"})
    assert response.status_code == 422


def test_pages_follow_the_cursor_without_gaps_or_repeats(client: TestClient,
                                                         auth: Callable[..., dict[str, str]]) -> None:
    headers = auth("customers:write", "customers:read")
    names = [f"Cliente {i:02d}" for i in range(7)]
    for name in reversed(names):
        client.post("/v1/customers", headers=headers, json={"name": name})
    seen, cursor = [], None
    while True:
        params = {"limit": 3, "sort": "name", **({"cursor": cursor} if cursor else {})}
        page = client.get("/v1/customers", headers=headers, params=params).json()
        seen += [c["name"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == names
    descending = client.get("/v1/customers", headers=headers, params={"sort": "-name", "limit": 2}).json()
    assert [c["name"] for c in descending["items"]] == names[::-1][:2]


def test_filters_narrow_the_list(client: TestClient, auth: Callable[..., dict[str, str]]) -> None:
    headers = auth("customers:write", "customers:read")
    client.post("/v1/customers", headers=headers, json={"name": "A", "tier": "premium"})
    client.post("/v1/customers", headers=headers, json={"name": "B"})
    page = client.get("/v1/customers", headers=headers, params={"tier": "premium"}).json()
    assert [c["name"] for c in page["items"]] == ["A"]


def test_a_bad_sort_or_cursor_is_422(client: TestClient, auth: Callable[..., dict[str, str]]) -> None:
    headers = auth("customers:read")
    bad_sort = client.get("/v1/customers", headers=headers, params={"sort": "phone"})
    assert bad_sort.status_code == 422
    assert bad_sort.json()["error"]["details"][0]["loc"] == ["query", "sort"]
    bad_cursor = client.get("/v1/customers", headers=headers, params={"cursor": "garbage"})
    assert bad_cursor.status_code == 422 and bad_cursor.json()["error"]["details"] == {"field": "cursor"}


def test_technicians_are_created_and_filtered_by_region(client: TestClient,
                                                        auth: Callable[..., dict[str, str]]) -> None:
    headers = auth("technicians:write", "technicians:read")
    body = {"name": "João", "region": "sp-sul", "skills": ["eletrica"],
            "working_hours": {"mon": ["08:00", "18:00"]}}
    assert client.post("/v1/technicians", headers=headers, json=body).status_code == 201
    client.post("/v1/technicians", headers=headers, json={"name": "Ana", "region": "sp-norte"})
    page = client.get("/v1/technicians", headers=headers, params={"region": "sp-sul"}).json()
    assert [t["name"] for t in page["items"]] == ["João"]
