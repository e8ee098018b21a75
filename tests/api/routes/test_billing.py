"""Invoices and payments through the API."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from tests.api.routes.test_orders import setup_order


def test_an_invoice_is_issued_and_settled_by_payments(client: TestClient,
                                                      auth: Callable[..., dict[str, str]]) -> None:
    headers = auth("admin")
    order = setup_order(client, headers)
    invoice = client.post("/v1/invoices", headers=headers,
                          json={"order_id": order["id"], "amount": "100.00", "due_date": "2026-12-10"}).json()
    assert invoice["status"] == "issued" and invoice["number"].startswith("FAT-")
    paid = client.post("/v1/payments", headers=headers,
                       json={"invoice_id": invoice["id"], "amount": "100.00", "method": "pix"})
    assert paid.status_code == 201
    assert client.get(f"/v1/invoices/{invoice['id']}", headers=headers).json()["status"] == "paid"
    too_much = client.post("/v1/payments", headers=headers,
                           json={"invoice_id": invoice["id"], "amount": "1.00", "method": "pix"})
    assert too_much.status_code == 422
