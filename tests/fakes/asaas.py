"""A local HTTP server that speaks Asaas API v3, for the real httpx calls of ``AsaasAdapter``.

JSON bodies with the API key in the ``access_token`` header, lists paged with
``offset``/``limit``/``hasMore``, and Asaas's error bodies
(``{"errors": [{"code", "description"}]}``). Failures are scripted:
``fail_next(status, ...)`` for the next request (429 with ``Retry-After``, 500...),
``delay_next_create(seconds)`` stores the next charge but answers after the client's
timeout (the lost response that must not become a second charge).

The customer's side is played by ``pay(payment_id, ...)``; each change makes an
Asaas-shaped webhook event (``events``), which tests deliver (again, or out of order)
with ``deliver(post, event)`` — ``post`` being a TestClient's, or ``deliver_to_url``.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.fakes.serving import serving

API_KEY = "$aact_test_" + "k" * 40
WEBHOOK_TOKEN = "whsec-asaas-" + "t" * 32
_PATH = re.compile(r"^/v3/(?P<collection>customers|payments|invoices|finance/balance|myAccount)"
                   r"(?:/(?P<id>[\w-]+))?(?:/(?P<action>\w+))?$")
PAID = ("RECEIVED", "CONFIRMED", "RECEIVED_IN_CASH")


@dataclass
class Failure:
    status: int
    code: str
    description: str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class FakeAsaas:
    url: str = ""  # the API root, as settings.api_url (…/v3)
    api_key: str = API_KEY
    webhook_token: str = WEBHOOK_TOKEN
    today: date = field(default_factory=date.today)
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    payments: dict[str, dict[str, Any]] = field(default_factory=dict)
    invoices: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)  # method, path, body
    headers_seen: list[dict[str, str]] = field(default_factory=list)
    queries: list[dict[str, str]] = field(default_factory=list)  # the query parameters of each request
    events: list[dict[str, Any]] = field(default_factory=list)
    scripted: deque[Failure] = field(default_factory=deque)
    create_delay: float = 0.0
    always_more: bool = False  # a hostile or broken server: every page says hasMore, forever
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _counter: int = 0

    # --- scripting -------------------------------------------------------------------------------

    def fail_next(self, status: int, code: str = "", description: str = "",
                  retry_after: int | None = None) -> None:
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        self.scripted.append(Failure(status, code or f"scripted_{status}",
                                     description or f"scripted {status}", headers))

    def delay_next_create(self, seconds: float) -> None:
        """The next ``POST /payments`` is stored, then answered ``seconds`` later."""
        self.create_delay = seconds

    def next_id(self, prefix: str) -> str:
        with self._lock:
            self._counter += 1
            return f"{prefix}_{self._counter:012d}"

    # --- the customer's side ---------------------------------------------------------------------

    def pay(self, payment_id: str, value: Decimal | str | None = None, billing_type: str = "PIX",
            on: date | None = None, event: str | None = None) -> dict[str, Any]:
        """The customer pays: the charge becomes RECEIVED (CONFIRMED for a card) and an event is made."""
        charge = self.payments[payment_id]
        paid_on = (on or self.today).isoformat()
        status = "CONFIRMED" if billing_type == "CREDIT_CARD" else "RECEIVED"
        if value is not None:
            charge["value"] = float(Decimal(str(value)))
        charge.update(status=status, billingType=billing_type, paymentDate=paid_on,
                      clientPaymentDate=paid_on, confirmedDate=paid_on)
        return self.event(event or f"PAYMENT_{status}", payment_id)

    def event(self, event_type: str, payment_id: str) -> dict[str, Any]:
        """An Asaas webhook body for the charge as it is now (kept in ``events``)."""
        body = {"id": f"evt_{uuid.uuid4().hex}&{len(self.events) + 1}", "event": event_type,
                "dateCreated": f"{self.today.isoformat()} 10:00:00",
                "payment": dict(self.payments[payment_id])}
        self.events.append(body)
        return body

    def deliver(self, post: Callable[..., Any], event: dict[str, Any], *, path: str = "/webhooks/asaas",
                token: str | None = None) -> Any:
        """Deliver ``event`` as Asaas does: JSON, the webhook's token in ``asaas-access-token``."""
        headers = {"asaas-access-token": self.webhook_token if token is None else token,
                   "Content-Type": "application/json"}
        return post(path, content=json.dumps(event).encode(), headers=headers)

    def deliver_to_url(self, url: str, event: dict[str, Any], token: str | None = None) -> int:
        import httpx

        headers = {"asaas-access-token": self.webhook_token if token is None else token}
        return httpx.post(url, json=event, headers=headers, timeout=10).status_code

    # --- what was asked --------------------------------------------------------------------------

    def created(self, collection: str) -> list[dict[str, Any]]:
        return [body for method, path, body in self.requests
                if method == "POST" and path == f"/v3/{collection}"]


def _error(failure: Failure) -> bytes:
    return json.dumps({"errors": [{"code": failure.code, "description": failure.description}]}).encode()


def _page(items: list[dict[str, Any]], query: dict[str, str], endless: bool = False) -> dict[str, Any]:
    offset = int(query.get("offset", "0"))
    limit = min(int(query.get("limit", "10")), 100)
    chunk = items[:limit] if endless else items[offset:offset + limit]
    return {"object": "list", "hasMore": endless or offset + limit < len(items), "totalCount": len(items),
            "limit": limit, "offset": offset, "data": chunk}


def _matches(charge: dict[str, Any], query: dict[str, str]) -> bool:
    if charge.get("deleted"):
        return False
    for name in ("externalReference", "customer", "status", "billingType"):
        if name in query and charge.get(name) != query[name]:
            return False
    paid = charge.get("paymentDate")
    if "paymentDate[ge]" in query and (paid is None or paid < query["paymentDate[ge]"]):
        return False
    return not ("paymentDate[le]" in query and (paid is None or paid > query["paymentDate[le]"]))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    fake: FakeAsaas

    # headers and body leave in two writes: with Nagle on, each answer waits ~40 ms for an ACK
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _answer(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(raw)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up waiting (the timeout mode)

    def _fail(self, failure: Failure) -> None:
        self._answer(failure.status, _error(failure), failure.headers)

    def _handle(self, method: str) -> None:
        fake = self.fake
        parts = urlsplit(self.path)
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else {}
        with fake._lock:
            fake.requests.append((method, parts.path, body))
            fake.headers_seen.append(dict(self.headers.items()))
            fake.queries.append(query)
        if self.headers.get("access_token") != fake.api_key:
            self._fail(Failure(401, "invalid_access_token", "A chave de API fornecida é inválida"))
            return
        with fake._lock:
            failure = fake.scripted.popleft() if fake.scripted else None
        if failure is not None:
            self._fail(failure)
            return
        match = _PATH.match(parts.path)
        if match is None:
            self._fail(Failure(404, "not_found", f"Recurso {parts.path} não encontrado"))
            return
        route = _ROUTES.get((method, match["collection"], bool(match["id"]), match["action"]))
        if route is None:
            self._fail(Failure(404, "not_found", f"Recurso {parts.path} não encontrado"))
            return
        route(self, match["id"], query, body)

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    # --- routes ----------------------------------------------------------------------------------

    def balance(self, _id: str | None, query: dict[str, str], body: dict[str, Any]) -> None:
        self._answer(200, {"balance": 1234.56})

    def list_customers(self, _id: str | None, query: dict[str, str], body: dict[str, Any]) -> None:
        wanted = query.get("externalReference")
        found = [c for c in self.fake.customers.values()
                 if wanted is None or c.get("externalReference") == wanted]
        self._answer(200, _page(found, query))

    def create_customer(self, _id: str | None, query: dict[str, str], body: dict[str, Any]) -> None:
        if not body.get("name"):
            self._fail(Failure(400, "invalid_name", "O campo nome deve ser informado."))
            return
        digits = str(body.get("cpfCnpj") or "")
        if len(digits) not in (11, 14) or not digits.isalnum():
            self._fail(Failure(400, "invalid_cpfCnpj", "O CPF/CNPJ informado é inválido."))
            return
        customer = {"object": "customer", "id": self.fake.next_id("cus"),
                    "dateCreated": self.fake.today.isoformat(), **body, "deleted": False}
        self.fake.customers[customer["id"]] = customer
        self._answer(200, customer)

    def update_customer(self, customer_id: str | None, query: dict[str, str], body: dict[str, Any]) -> None:
        customer = self.fake.customers.get(customer_id or "")
        if customer is None:
            self._fail(Failure(404, "not_found", "Cliente não encontrado."))
            return
        customer.update(body)
        self._answer(200, customer)

    def list_payments(self, _id: str | None, query: dict[str, str], body: dict[str, Any]) -> None:
        found = [p for p in self.fake.payments.values() if _matches(p, query)]
        self._answer(200, _page(found, query, self.fake.always_more))

    def create_payment(self, _id: str | None, query: dict[str, str], body: dict[str, Any]) -> None:
        problem = self._invalid_charge(body)
        if problem is not None:
            self._fail(problem)
            return
        charge_id = self.fake.next_id("pay")
        number = charge_id.split("_")[1]
        charge = {"object": "payment", "id": charge_id, "dateCreated": self.fake.today.isoformat(),
                  **body, "status": "PENDING", "netValue": body["value"], "deleted": False,
                  "paymentDate": None, "clientPaymentDate": None, "confirmedDate": None,
                  "invoiceUrl": f"https://sandbox.asaas.com/i/{number}",
                  "bankSlipUrl": (f"https://sandbox.asaas.com/b/pdf/{number}"
                                  if body["billingType"] in ("BOLETO", "UNDEFINED") else None),
                  "nossoNumero": number[-8:]}
        self.fake.payments[charge_id] = charge
        delay, self.fake.create_delay = self.fake.create_delay, 0.0
        if delay:
            time.sleep(delay)  # stored, but the answer comes after the client stopped waiting
        self._answer(200, charge)

    def _invalid_charge(self, body: dict[str, Any]) -> Failure | None:
        if body.get("customer") not in self.fake.customers:
            return Failure(400, "invalid_customer", "Customer inválido ou não informado.")
        if body.get("billingType") not in ("BOLETO", "PIX", "CREDIT_CARD", "UNDEFINED"):
            return Failure(400, "invalid_billingType", "Forma de pagamento inválida.")
        value = body.get("value")
        if not isinstance(value, int | float) or value <= 0:
            return Failure(400, "invalid_value", "O valor da cobrança deve ser maior que zero.")
        due = str(body.get("dueDate") or "")
        if not due or due < self.fake.today.isoformat():
            return Failure(400, "invalid_dueDate", "Não é permitido data de vencimento inferior a hoje.")
        return None

    def _charge(self, payment_id: str | None) -> dict[str, Any] | None:
        charge = self.fake.payments.get(payment_id or "")
        if charge is None:
            self._fail(Failure(404, "not_found", "Cobrança não encontrada."))
        return charge

    def get_payment(self, payment_id: str | None, query: dict[str, str], body: dict[str, Any]) -> None:
        charge = self._charge(payment_id)
        if charge is not None:
            self._answer(200, charge)

    def delete_payment(self, payment_id: str | None, query: dict[str, str], body: dict[str, Any]) -> None:
        charge = self._charge(payment_id)
        if charge is None:
            return
        if charge["deleted"]:
            self._fail(Failure(404, "not_found", "Cobrança não encontrada."))
            return
        if charge["status"] in PAID:
            self._fail(Failure(400, "invalid_action", "Não é possível remover uma cobrança já recebida."))
            return
        charge["deleted"] = True
        self._answer(200, {"deleted": True, "id": charge["id"]})

    def pix(self, payment_id: str | None, query: dict[str, str], body: dict[str, Any]) -> None:
        charge = self._charge(payment_id)
        if charge is None:
            return
        payload = f"00020101021226820014br.gov.bcb.pix2560qrpix.example/{charge['id']}5204000053039865802BR"
        self._answer(200, {"encodedImage": base64.b64encode(b"\x89PNG fake " + payload.encode()).decode(),
                           "payload": payload, "expirationDate": f"{charge['dueDate']} 23:59:59"})

    def boleto(self, payment_id: str | None, query: dict[str, str], body: dict[str, Any]) -> None:
        charge = self._charge(payment_id)
        if charge is None:
            return
        if charge["billingType"] not in ("BOLETO", "UNDEFINED"):
            self._fail(Failure(400, "invalid_action", "Esta cobrança não é um boleto."))
            return
        cents = f"{round(charge['value'] * 100):010d}"
        self._answer(200, {"identificationField": f"00190.00009 01234.567895 12345.678906 1 9999{cents}",
                           "nossoNumero": charge["nossoNumero"],
                           "barCode": f"0019{cents}0000001234567890123456"})

    def refund(self, payment_id: str | None, query: dict[str, str], body: dict[str, Any]) -> None:
        charge = self._charge(payment_id)
        if charge is None:
            return
        if charge["status"] not in PAID:
            self._fail(Failure(400, "invalid_action", "Só é possível estornar cobranças recebidas."))
            return
        value = body.get("value", charge["value"])
        if not isinstance(value, int | float) or value <= 0 or value > charge["value"]:
            self._fail(Failure(400, "invalid_value", "O valor do estorno é inválido."))
            return
        charge.update(status="REFUNDED", refundedValue=value)
        self.fake.event("PAYMENT_REFUNDED", charge["id"])
        self._answer(200, charge)

    def receive_in_cash(self, payment_id: str | None, query: dict[str, str], body: dict[str, Any]) -> None:
        charge = self._charge(payment_id)
        if charge is None:
            return
        if charge["status"] in PAID:
            self._fail(Failure(400, "invalid_action", "Esta cobrança já foi recebida."))
            return
        charge.update(status="RECEIVED_IN_CASH", paymentDate=body.get("paymentDate"), value=body.get("value"))
        self._answer(200, charge)

    def list_invoices(self, _id: str | None, query: dict[str, str], body: dict[str, Any]) -> None:
        found = [i for i in self.fake.invoices.values()
                 if all(i.get(k) == query[k] for k in ("payment", "externalReference") if k in query)]
        self._answer(200, _page(found, query))

    def create_invoice(self, _id: str | None, query: dict[str, str], body: dict[str, Any]) -> None:
        for name in ("serviceDescription", "observations", "value", "effectiveDate", "taxes"):
            if body.get(name) in (None, ""):
                self._fail(Failure(400, f"invalid_{name}", f"O campo {name} deve ser informado."))
                return
        if body.get("payment") and body["payment"] not in self.fake.payments:
            self._fail(Failure(400, "invalid_payment", "Cobrança não encontrada."))
            return
        invoice = {"object": "invoice", "id": self.fake.next_id("inv"), "status": "SCHEDULED", **body,
                   "pdfUrl": None, "number": None}
        self.fake.invoices[invoice["id"]] = invoice
        self._answer(200, invoice)

    def authorize_invoice(self, invoice_id: str | None, query: dict[str, str], body: dict[str, Any]) -> None:
        invoice = self.fake.invoices.get(invoice_id or "")
        if invoice is None:
            self._fail(Failure(404, "not_found", "Nota fiscal não encontrada."))
            return
        invoice.update(status="AUTHORIZED", number=str(len(self.fake.invoices)),
                       pdfUrl=f"https://sandbox.asaas.com/nfse/{invoice['id']}.pdf")
        self._answer(200, invoice)


_Route = Callable[[_Handler, str | None, dict[str, str], dict[str, Any]], None]
_ROUTES: dict[tuple[str, str, bool, str | None], _Route] = {
    ("GET", "finance/balance", False, None): _Handler.balance,
    ("GET", "customers", False, None): _Handler.list_customers,
    ("POST", "customers", False, None): _Handler.create_customer,
    ("POST", "customers", True, None): _Handler.update_customer,
    ("GET", "payments", False, None): _Handler.list_payments,
    ("POST", "payments", False, None): _Handler.create_payment,
    ("GET", "payments", True, None): _Handler.get_payment,
    ("DELETE", "payments", True, None): _Handler.delete_payment,
    ("GET", "payments", True, "pixQrCode"): _Handler.pix,
    ("GET", "payments", True, "identificationField"): _Handler.boleto,
    ("POST", "payments", True, "refund"): _Handler.refund,
    ("POST", "payments", True, "receiveInCash"): _Handler.receive_in_cash,
    ("GET", "invoices", False, None): _Handler.list_invoices,
    ("POST", "invoices", False, None): _Handler.create_invoice,
    ("POST", "invoices", True, "authorize"): _Handler.authorize_invoice,
}


@contextmanager
def asaas_server() -> Iterator[FakeAsaas]:
    fake = FakeAsaas()
    with serving(type("Handler", (_Handler,), {"fake": fake})) as url:
        fake.url = f"{url}/v3"
        yield fake
