"""Asaas (payments): customers, charges with PIX and boleto, cancellations, refunds, NFS-e.

Every create is preceded by a search on ``externalReference`` (our id): a step retried
after a lost answer finds the first customer or charge (outcome ``duplicate``) instead of
charging twice. Payments come in by webhook (``api/webhooks/asaas.py``) and, for
reconciliation, by ``payments_since``/``open_receivables`` (pages of ``offset``/``limit``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

from connectors.accounting import asaas_wire as wire_format
from connectors.accounting.adapter import (
    AdapterRuntime,
    CustomerRecord,
    Exchange,
    InvoiceRecord,
    PaymentRecord,
    Remote,
    RemotePayment,
    RemoteReceivable,
)
from connectors.accounting.asaas_http import AsaasHttp, Outcome
from connectors.accounting.asaas_wire import OPEN_STATUSES, PAID_STATUSES, REFUNDED_STATUSES
from connectors.accounting.money import as_text, brl, wire
from connectors.accounting.settings import AsaasSettings
from errors import PermanentError

if TYPE_CHECKING:
    import httpx

PAGE = 100  # Asaas's largest page
_ASAAS_ID = re.compile(r"^[A-Za-z0-9_-]{1,100}$")  # pay_…, cus_…, inv_…: one path segment, nothing else
MAX_PAGES = 500  # 50,000 charges: beyond that a listing is a loop, not a backlog
_CUSTOMER_FIELDS = ("name", "cpfCnpj", "email", "mobilePhone", "address", "postalCode")


class AsaasAdapter:
    system: ClassVar[str] = "asaas"

    def __init__(self, settings: AsaasSettings, runtime: AdapterRuntime, *,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.settings = settings
        self.http = AsaasHttp(settings, runtime.audit, transport=transport)

    def check(self) -> dict[str, Any]:
        answer = self.http.call("check", "GET", "/finance/balance", [])
        return {"system": self.system, "api_url": self.settings.api_url,
                "balance": as_text(brl(answer.get("balance", 0)))}

    # --- customers -------------------------------------------------------------------------------

    def upsert_customer(self, customer: CustomerRecord, key: str) -> Remote:
        trail: list[Exchange] = []
        body = wire_format.customer_body(customer)
        found = self._first("customers", {"externalReference": customer.id}, "find_customer", trail)
        if found is None:
            made = self.http.call("create_customer", "POST", "/customers", trail, body=body)
            return Remote(str(made["id"]), "created", _customer_fields(made), exchanges=trail)
        if any(found.get(name) != body.get(name) for name in _CUSTOMER_FIELDS if name in body):
            path = f"/customers/{segment(found['id'])}"
            found = self.http.call("update_customer", "POST", path, trail, body=body)
            return Remote(str(found["id"]), "updated", _customer_fields(found), exchanges=trail)
        return Remote(str(found["id"]), "unchanged", _customer_fields(found), exchanges=trail)

    # --- charges ---------------------------------------------------------------------------------

    def push_invoice(self, invoice: InvoiceRecord, customer_external_id: str, key: str) -> Remote:
        """A charge for the invoice, or the one a timed-out create already made (``duplicate``)."""
        trail: list[Exchange] = []
        body = wire_format.charge_body(invoice, customer_external_id, self.settings)
        charge = self._first("payments", {"externalReference": invoice.id}, "find_charge", trail,
                             found_outcome="duplicate")
        status = "duplicate" if charge is not None else "created"
        if charge is None:
            charge = self.http.call("create_charge", "POST", "/payments", trail, body=body)
        outputs = self._outputs(charge, trail)
        return Remote(str(charge["id"]), status, wire_format.charge_fields(charge), outputs, exchanges=trail)

    def _outputs(self, charge: dict[str, Any], trail: list[Exchange]) -> dict[str, Any]:
        """What the customer's message needs: links, the PIX copy-and-paste code, the boleto line."""
        outputs: dict[str, Any] = {
            "external_id": charge["id"], "status": charge.get("status"),
            "invoice_url": charge.get("invoiceUrl"), "bank_slip_url": charge.get("bankSlipUrl"),
            "due_date": charge.get("dueDate"), "amount": as_text(brl(charge.get("value")))}
        if charge.get("status") not in OPEN_STATUSES:
            return outputs  # paid or refunded already: nothing left to pay with
        kind = str(charge.get("billingType"))
        if kind in ("PIX", "UNDEFINED"):
            outputs.update(self._optional(kind == "PIX", lambda: self._pix(charge["id"], trail)))
        if kind in ("BOLETO", "UNDEFINED"):
            outputs.update(self._optional(kind == "BOLETO", lambda: self._boleto(charge["id"], trail)))
        return outputs

    @staticmethod
    def _optional(required: bool, fetch: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """With UNDEFINED the customer chooses: a form of payment the account lacks (no PIX key) is
        left out rather than failing a charge that exists; a transient failure still retries."""
        try:
            return dict(fetch())
        except PermanentError:
            if required:
                raise
            return {}

    def _pix(self, charge_id: str, trail: list[Exchange]) -> dict[str, Any]:
        pix = self.http.call("pix_qr_code", "GET", f"/payments/{segment(charge_id)}/pixQrCode", trail)
        return {"pix_payload": pix.get("payload"), "pix_qr_code": pix.get("encodedImage"),
                "pix_expires_at": pix.get("expirationDate")}

    def _boleto(self, charge_id: str, trail: list[Exchange]) -> dict[str, Any]:
        path = f"/payments/{segment(charge_id)}/identificationField"
        line = self.http.call("boleto_line", "GET", path, trail)
        return {"boleto_line": line.get("identificationField"), "barcode": line.get("barCode"),
                "nosso_numero": line.get("nossoNumero")}

    def cancel_invoice(self, external_id: str, key: str) -> Remote:
        external_id = segment(external_id)
        trail: list[Exchange] = []
        try:
            self.http.call("cancel_charge", "DELETE", f"/payments/{external_id}", trail)
        except PermanentError as exc:
            if exc.code != "not_found":
                raise
            # a retry after a lost answer: the charge is there, deleted — the cancel happened
            charge = self.http.call("fetch_charge", "GET", f"/payments/{external_id}", trail,
                                    outcome="duplicate")
            if not charge.get("deleted"):
                raise
        return Remote(external_id, "DELETED", {"status": "DELETED"}, exchanges=trail)

    def settle(self, payment: PaymentRecord, invoice_external_id: str, key: str) -> Remote:
        """Our payment (cash, transfer) marked on the charge, so Asaas stops asking the customer."""
        invoice_external_id = segment(invoice_external_id)
        trail: list[Exchange] = []
        charge = self.http.call("fetch_charge", "GET", f"/payments/{invoice_external_id}", trail,
                                outcome=lambda c: "duplicate" if c.get("status") in PAID_STATUSES else "ok")
        if charge.get("status") in PAID_STATUSES:
            return Remote(invoice_external_id, str(charge["status"]), wire_format.charge_fields(charge),
                          exchanges=trail)
        body = {"paymentDate": payment.paid_at.date().isoformat(), "value": wire(payment.amount),
                "notifyCustomer": False}
        charge = self.http.call("settle", "POST", f"/payments/{invoice_external_id}/receiveInCash", trail,
                                body=body)
        return Remote(invoice_external_id, str(charge.get("status")), wire_format.charge_fields(charge),
                      exchanges=trail)

    def refund(self, payment_external_id: str, amount: Decimal | None, key: str) -> Remote:
        payment_external_id = segment(payment_external_id)
        trail: list[Exchange] = []
        path = f"/payments/{payment_external_id}"
        try:
            charge = self.http.call("refund", "POST", f"{path}/refund", trail,
                                    body=wire_format.refund_body(amount))
        except PermanentError as exc:
            if exc.code != "asaas_validation":
                raise
            charge = self.http.call("fetch_charge", "GET", path, trail, outcome="duplicate")
            if charge.get("status") not in REFUNDED_STATUSES:
                raise exc from None  # refused for another reason: Asaas's description says which
        fields = wire_format.charge_fields(charge)
        fields["refunded"] = as_text(brl(charge.get("refundedValue", charge.get("value"))))
        return Remote(payment_external_id, str(charge.get("status")), fields, exchanges=trail)

    # --- NFS-e -----------------------------------------------------------------------------------

    def issue_service_invoice(self, invoice: InvoiceRecord, invoice_external_id: str, key: str) -> Remote:
        """An NFS-e scheduled on the charge; authorised at once when the charge is already paid."""
        if not self.settings.municipal_service_code:
            raise PermanentError(
                "NFS-e through Asaas needs connectors.accounting.asaas.municipal_service_code",
                code="asaas_not_configured")
        invoice_external_id = segment(invoice_external_id)
        trail: list[Exchange] = []
        found = self._first("invoices", {"payment": invoice_external_id}, "find_service_invoice", trail,
                            found_outcome="duplicate", skip=lambda item: item.get("status") == "CANCELED")
        nfse = found or self.http.call("schedule_service_invoice", "POST", "/invoices", trail,
                                       body=self._nfse_body(invoice, invoice_external_id))
        if nfse.get("status") == "SCHEDULED":
            charge = self.http.call("fetch_charge", "GET", f"/payments/{invoice_external_id}", trail)
            if charge.get("status") in PAID_STATUSES:
                nfse = self.http.call("authorize_service_invoice", "POST",
                                      f"/invoices/{segment(nfse['id'])}/authorize", trail)
        outputs = {"nfse_id": nfse["id"], "nfse_status": nfse.get("status"),
                   "nfse_number": nfse.get("number"), "nfse_pdf_url": nfse.get("pdfUrl")}
        return Remote(str(nfse["id"]), str(nfse.get("status")), {"status": nfse.get("status")}, outputs,
                      exchanges=trail)

    def _nfse_body(self, invoice: InvoiceRecord, charge_id: str) -> dict[str, Any]:
        # taxes: Asaas requires the object; the rates come from the account's fiscal settings when zero
        taxes = {"retainIss": False, "iss": 0, "cofins": 0, "csll": 0, "inss": 0, "ir": 0, "pis": 0}
        return {"payment": charge_id, "serviceDescription": self.settings.service_description,
                "observations": f"Fatura {invoice.number}", "value": wire(invoice.amount), "deductions": 0,
                "effectiveDate": invoice.due_date.isoformat(), "externalReference": invoice.id,
                "municipalServiceCode": self.settings.municipal_service_code,
                "municipalServiceName": self.settings.service_description, "taxes": taxes}

    # --- listings --------------------------------------------------------------------------------

    def payments_since(self, since: datetime) -> list[RemotePayment]:
        params = {"paymentDate[ge]": since.astimezone(wire_format.ASAAS_ZONE).date().isoformat()}
        charges = self._pages("payments", params, "list_payments")
        return [wire_format.remote_payment(c) for c in charges if c.get("status") in PAID_STATUSES]

    def open_receivables(self) -> list[RemoteReceivable]:
        return [wire_format.remote_receivable(charge) for status in OPEN_STATUSES
                for charge in self._pages("payments", {"status": status}, "list_open_charges")]

    def _pages(self, collection: str, params: dict[str, Any], operation: str) -> Iterator[dict[str, Any]]:
        offset = 0
        for _ in range(MAX_PAGES):
            page = self.http.call(operation, "GET", f"/{collection}", [],
                                  params={**params, "offset": offset, "limit": PAGE})
            items = page.get("data") or []
            yield from (item for item in items if isinstance(item, dict))
            if not page.get("hasMore") or not items:
                return
            offset += len(items)
        raise PermanentError(f"Asaas listed more than {MAX_PAGES} pages of {collection}",
                             code="asaas_too_many")

    def _first(self, collection: str, params: dict[str, Any], operation: str, trail: list[Exchange], *,
               found_outcome: Outcome = "ok",
               skip: Callable[[dict[str, Any]], bool] = lambda item: False) -> dict[str, Any] | None:
        """The first live item a search finds; audited as ``found_outcome`` when it finds one."""

        def live(page: dict[str, Any]) -> list[dict[str, Any]]:
            return [item for item in page.get("data") or [] if isinstance(item, dict)
                    and not item.get("deleted") and not skip(item)]

        page = self.http.call(operation, "GET", f"/{collection}", trail, params={**params, "limit": 10},
                              outcome=lambda answer: found_outcome if live(answer) else "ok")
        items = live(page)
        return items[0] if items else None


def segment(external_id: str) -> str:
    """An Asaas id as it may appear in a URL path: ``pay_1/../../myAccount`` is refused, not sent."""
    if not isinstance(external_id, str) or not _ASAAS_ID.match(external_id):
        raise PermanentError(f"{str(external_id)[:40]!r} is not an Asaas id", code="bad_external_id")
    return external_id


def _customer_fields(customer: dict[str, Any]) -> dict[str, Any]:
    return {name: customer.get(name) for name in _CUSTOMER_FIELDS}
