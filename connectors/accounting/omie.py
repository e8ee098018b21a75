"""The Omie ERP adapter: customers, receivables, settlements (baixas), service orders and NFS-e.

Every create carries our id as Omie's integration code, so a create whose answer was lost (a
timeout after Omie saved it) is answered "já cadastrado" on the retry: the adapter then looks
the record up by that code and returns it with outcome ``duplicate`` instead of making a second
one. The wire, the limits and the fault classes are in ``omie_client``, ``omie_limits`` and
``omie_faults``; the field mapping is in ``omie_records``.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar

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
from connectors.accounting.money import as_text
from connectors.accounting.omie_client import Duplicate, OmieClient
from connectors.accounting.omie_limits import OmieLimiter
from connectors.accounting.omie_records import (
    ZONE,
    changed_at,
    customer_param,
    omie_date,
    omie_number,
    payment_of,
    receivable_fields,
    receivable_of,
    receivable_param,
    service_order_param,
    settlement_param,
)
from connectors.accounting.settings import AccountingSettings, OmieSettings
from errors import PermanentError

CLIENTES = "geral/clientes/"
CONTAS_RECEBER = "financas/contareceber/"
OS = "servicos/os/"
OS_FATURAMENTO = "servicos/osp/"
PAGE_SIZE = 500  # Omie's advice for list calls
MAX_PAGES = 200  # 100,000 receivables: past that the answer is not to be trusted, it is a loop


class OmieAdapter:
    system: ClassVar[str] = "omie"

    def __init__(self, settings: OmieSettings, runtime: AdapterRuntime, *, limiter: OmieLimiter | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.settings = settings
        self._exchanges: list[Exchange] | None = None
        self._runtime_audit = runtime.audit
        audited = dataclasses.replace(runtime, audit=self._audit)
        self.client = OmieClient(settings, audited, limiter=limiter, sleep=sleep)

    def _audit(self, exchange: Exchange) -> None:
        self._runtime_audit(exchange)
        if self._exchanges is not None:
            self._exchanges.append(exchange)

    @contextmanager
    def _collecting(self) -> Iterator[list[Exchange]]:
        """The exchanges of one interface call, returned in its ``Remote``."""
        collected: list[Exchange] = []
        self._exchanges = collected
        try:
            yield collected
        finally:
            self._exchanges = None

    def _call(self, module: str, method: str, param: dict[str, Any], operation: str) -> dict[str, Any]:
        return self.client.call(module, method, param, operation)

    def check(self) -> dict[str, Any]:
        try:
            answer = self._call(CLIENTES, "ListarClientes", {"pagina": 1, "registros_por_pagina": 1,
                                                             "apenas_importado_api": "N"}, "check")
        except PermanentError as exc:
            if exc.code != "no_records":
                raise
            answer = {"total_de_registros": 0}
        return {"system": "omie", "ok": True, "customers": answer.get("total_de_registros")}

    def upsert_customer(self, customer: CustomerRecord, key: str) -> Remote:
        param = customer_param(customer)
        with self._collecting() as exchanges:
            try:
                answer = self._call(CLIENTES, "UpsertCliente", param, "upsert_customer")
                outcome = "ok"
            except Duplicate:
                # another customer of Omie's holds this CPF/CNPJ: ours is found by our code, or not at all
                answer = self._call(CLIENTES, "ConsultarCliente",
                                    {"codigo_cliente_integracao": param["codigo_cliente_integracao"]},
                                    "find_customer")
                outcome = "duplicate"
        number = omie_number("customer", answer.get("codigo_cliente_omie"))
        return Remote(external_id=str(number), status=outcome,
                      fields={"integration_code": param["codigo_cliente_integracao"]}, exchanges=exchanges)

    def push_invoice(self, invoice: InvoiceRecord, customer_external_id: str, key: str) -> Remote:
        param = receivable_param(invoice, customer_external_id, self.settings)
        code = param["codigo_lancamento_integracao"]
        with self._collecting() as exchanges:
            try:
                created = self._call(CONTAS_RECEBER, "IncluirContaReceber", param, "push_invoice")
                number = omie_number("receivable", created.get("codigo_lancamento_omie"))
                return Remote(external_id=str(number), status="created",
                              fields={"amount": as_text(invoice.amount), "due_date": param["data_vencimento"],
                                      "integration_code": code},
                              outputs={"receivable_id": str(number)}, exchanges=exchanges)
            except Duplicate:
                record = self._call(CONTAS_RECEBER, "ConsultarContaReceber",
                                    {"codigo_lancamento_integracao": code}, "find_receivable")
        return self._found(record, exchanges)

    def _found(self, record: dict[str, Any], exchanges: list[Exchange]) -> Remote:
        number = omie_number("receivable", record.get("codigo_lancamento_omie"))
        version = changed_at(record)
        return Remote(external_id=str(number), status="duplicate", fields=receivable_fields(record),
                      outputs={"receivable_id": str(number)},
                      version=version.isoformat() if version else None, exchanges=exchanges)

    def cancel_invoice(self, external_id: str, key: str) -> Remote:
        param = {"chave_lancamento": omie_number("receivable", external_id)}
        with self._collecting() as exchanges:
            try:
                self._call(CONTAS_RECEBER, "CancelarContaReceber", param, "cancel_invoice")
                status = "cancelled"
            except Duplicate:  # "já cancelado": the first attempt did it
                status = "already_cancelled"
        return Remote(external_id=external_id, status=status, exchanges=exchanges)

    def settle(self, payment: PaymentRecord, invoice_external_id: str, key: str) -> Remote:
        param = settlement_param(payment, invoice_external_id, self.settings)
        with self._collecting() as exchanges:
            try:
                answer = self._call(CONTAS_RECEBER, "LancarRecebimento", param, "settle")
            except Duplicate:
                record = self._call(CONTAS_RECEBER, "ConsultarContaReceber",
                                    {"codigo_lancamento_omie": param["codigo_lancamento"]}, "find_receivable")
                return Remote(external_id=param["codigo_baixa_integracao"], status="duplicate",
                              fields=receivable_fields(record), exchanges=exchanges)
        baixa = answer.get("codigo_baixa")
        settlement = str(omie_number("settlement", baixa)) if baixa else param["codigo_baixa_integracao"]
        return Remote(external_id=settlement,
                      status="settled" if answer.get("liquidado") == "S" else "partially_settled",
                      fields={"amount": as_text(payment.amount), "date": param["data"]},
                      outputs={"settlement_id": str(baixa or "")}, exchanges=exchanges)

    def refund(self, payment_external_id: str, amount: Decimal | None, key: str) -> Remote:
        """Omie has no refund: the settlement (baixa) is undone whole with ``CancelarRecebimento``."""
        if amount is not None:
            raise PermanentError("Omie cannot undo part of a settlement; record the refund in Omie by hand",
                                 code="unsupported")
        with self._collecting() as exchanges:
            self._call(CONTAS_RECEBER, "CancelarRecebimento",
                       {"codigo_baixa": omie_number("settlement", payment_external_id)}, "refund")
        return Remote(external_id=payment_external_id, status="settlement_cancelled", exchanges=exchanges)

    def issue_service_invoice(self, invoice: InvoiceRecord, invoice_external_id: str, key: str) -> Remote:
        """A service order for the invoice (``IncluirOS``), then its invoicing (``FaturarOS``): the NFS-e.

        Omie sends the RPS to the city hall itself; the NFS-e number comes later (``ListarNFSEs``).
        """
        param = service_order_param(invoice, self.settings)
        code = param["Cabecalho"]["cCodIntOS"]
        with self._collecting() as exchanges:
            order, invoiced = self._service_order(param, code)
            if not invoiced:
                with suppress(Duplicate):  # "já faturada": an earlier attempt got that far
                    self._call(OS_FATURAMENTO, "FaturarOS", {"nCodOS": order}, "issue_service_invoice")
        return Remote(external_id=str(order), status="invoicing",
                      fields={"amount": as_text(invoice.amount), "integration_code": code},
                      outputs={"service_order_id": str(order)}, exchanges=exchanges)

    def _service_order(self, param: dict[str, Any], code: str) -> tuple[int, bool]:
        """Omie's number of the order, and whether it is already invoiced."""
        try:
            answer = self._call(OS, "IncluirOS", param, "create_service_order")
            return omie_number("service order", answer.get("nCodOS")), False
        except Duplicate:
            found = self._call(OS, "ConsultarOS", {"cCodIntOS": code}, "find_service_order")
        header = found.get("Cabecalho")
        info = found.get("InfoCadastro")
        header = header if isinstance(header, dict) else {}
        info = info if isinstance(info, dict) else {}
        return omie_number("service order", header.get("nCodOS")), info.get("cFaturada") == "S"

    def payments_since(self, since: datetime) -> list[RemotePayment]:
        """Receivables Omie marks RECEBIDO that changed since ``since`` (a settlement made in Omie)."""
        if since.tzinfo is None:  # as in the store: a guessed zone would shift the window by hours
            raise PermanentError("payments_since needs a moment with its time zone", code="naive_datetime")
        moment = since.astimezone(ZONE)
        filters = {"filtrar_por_status": "RECEBIDO", "filtrar_apenas_alteracao": "S",
                   "filtrar_por_data_de": omie_date(moment.date()),
                   "filtrar_por_hora_de": moment.strftime("%H:%M:%S")}
        payments = [payment_of(record) for record in self._receivables(filters, "payments_since")]
        return [payment for payment in payments if payment.paid_at >= since]

    def open_receivables(self) -> list[RemoteReceivable]:
        found: list[RemoteReceivable] = []
        for status in ("A VENCER", "ATRASADO", "VENCE HOJE"):
            records = self._receivables({"filtrar_por_status": status}, "open_receivables")
            found.extend(receivable_of(record) for record in records)
        return found

    def _receivables(self, filters: dict[str, Any], operation: str) -> Iterator[dict[str, Any]]:
        page, pages = 1, 1
        while page <= pages:
            try:
                answer = self._call(CONTAS_RECEBER, "ListarContasReceber",
                                    {"pagina": page, "registros_por_pagina": PAGE_SIZE, **filters}, operation)
            except PermanentError as exc:
                if exc.code == "no_records":  # Omie's way of saying the list is empty
                    return
                raise
            pages = _page_count(answer)
            records = answer.get("conta_receber_cadastro") or []
            if not isinstance(records, list):
                raise PermanentError("Omie's conta_receber_cadastro is not a list", code="bad_response")
            yield from (record for record in records if isinstance(record, dict))
            page += 1


def _page_count(answer: dict[str, Any]) -> int:
    pages = answer.get("total_de_paginas", 1)
    if not isinstance(pages, int) or isinstance(pages, bool) or pages < 0:
        raise PermanentError(f"Omie's total_de_paginas {pages!r} is not a page count", code="bad_response")
    if pages > MAX_PAGES:
        raise PermanentError(f"Omie reports {pages} pages of receivables; more than {MAX_PAGES} is refused "
                             "(narrow the period)", code="bad_response")
    return pages


def omie_adapter(settings: AccountingSettings, runtime: AdapterRuntime) -> OmieAdapter:
    return OmieAdapter(settings.omie, runtime)

