"""Conta Azul (ERP, API v2): customers (pessoas), receivables, their settlement (baixa), polling.

Finding what we already created. Conta Azul v2 has no integration code that refuses a second
create the way Omie's ``codigo_*_integracao`` does, so every create is find-before-create:
- a receivable carries our invoice id in ``referencia_externa``; before creating one we list the
  customer's receivables due that day and take the one with our id. The connector's
  ``AccountingSyncRecord`` answers "did we create it?" for the ordinary case (it holds the
  external id after a success); the search covers the case it cannot: a create whose answer was
  lost (a timeout after Conta Azul stored it).
- a customer is found by CPF/CNPJ (a document Conta Azul holds once), else by e-mail.
- a settlement carries ``despacho:<payment id>`` in its ``observacao``; the installment's
  settlements are read before settling.

The external id of an invoice is the receivable's installment (``parcela``) id: settlements,
deletion and polling all address installments; our receivables have exactly one.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar
from zoneinfo import ZoneInfo

from connectors.accounting.adapter import (
    AdapterRuntime,
    CustomerRecord,
    InvoiceRecord,
    PaymentRecord,
    Remote,
    RemotePayment,
    RemoteReceivable,
)
from connectors.accounting.money import brl, wire
from connectors.accounting.settings import AccountingSettings
from errors import PermanentError

if TYPE_CHECKING:
    from connectors.accounting.conta_azul_client import ContaAzulClient

RECEIVABLES = "/v1/financeiro/eventos-financeiros/contas-a-receber"
INSTALLMENTS = "/v1/financeiro/eventos-financeiros/parcelas"
PAGE_SIZE = 100
MAX_PAGES = 200  # 20,000 rows in one poll: more means a wrong filter, not a busy month
BRAZIL = ZoneInfo("America/Sao_Paulo")
METHODS = {"pix": "PIX_PAGAMENTO_INSTANTANEO", "boleto": "BOLETO_BANCARIO", "credit_card": "CARTAO_CREDITO",
           "debit_card": "CARTAO_DEBITO", "cash": "DINHEIRO", "transfer": "TRANSFERENCIA_BANCARIA"}
OUR_METHODS = {**{theirs: ours for ours, theirs in METHODS.items()}, "PAGAMENTO_INSTANTANEO": "pix"}
PAID = ("RECEBIDO", "RECEBIDO_PARCIAL")
OPEN = ("EM_ABERTO", "ATRASADO", "RECEBIDO_PARCIAL")


class ContaAzulAdapter:
    system: ClassVar[str] = "conta_azul"

    def __init__(self, settings: AccountingSettings, runtime: AdapterRuntime,
                 client: ContaAzulClient | None = None) -> None:
        self.settings = settings.conta_azul
        self.client = client or build_client(settings, runtime)

    def check(self) -> dict[str, Any]:
        page = self.client.call("check", "GET", "/v1/pessoas", params={"pagina": 1, "tamanho_pagina": 1})
        return {"system": self.system, "company": self.settings.company, "reachable": True,
                "customers": (page or {}).get("totalItems")}

    # --- customers ---------------------------------------------------------------------------

    def upsert_customer(self, customer: CustomerRecord, key: str) -> Remote:
        found = self._find_customer(customer)
        if found is not None:
            return Remote(str(found["id"]), "found", fields={"name": found.get("nome")})
        created = self.client.call("customer.create", "POST", "/v1/pessoas", body=_person(customer))
        return Remote(str(_id(created, "customer.create")), "created", fields={"name": customer.name})

    def _find_customer(self, customer: CustomerRecord) -> dict[str, Any] | None:
        term = customer.tax_id or customer.email
        if not term:
            return None
        page = self.client.call("customer.find", "GET", "/v1/pessoas",
                                params={"busca_textual": term, "pagina": 1, "tamanho_pagina": 10})
        for person in _items(page, "items"):
            document = "".join(ch for ch in str(person.get("documento") or "") if ch.isalnum()).upper()
            if customer.tax_id and document == customer.tax_id.upper():
                return person
            if not customer.tax_id and str(person.get("email") or "").lower() == term.lower():
                return person
        return None

    # --- receivables -------------------------------------------------------------------------

    def push_invoice(self, invoice: InvoiceRecord, customer_external_id: str, key: str) -> Remote:
        found = self._find_receivable(invoice, customer_external_id)
        if found is not None:
            return _receivable(found, "found")
        account, category = self._accounts()
        amount = wire(invoice.amount)
        body = {
            "data_competencia": invoice.due_date.isoformat(), "valor": amount,
            "descricao": f"{invoice.number} {invoice.description}".strip()[:200],
            "observacao": f"despacho:{invoice.id}", "referencia_externa": invoice.id,
            "id_cliente": customer_external_id, "conta_financeira": account,
            "rateio": [{"id_categoria": category, "valor": amount}],
            "condicao_pagamento": {"parcelas": [{
                "descricao": "Parcela 1", "data_vencimento": invoice.due_date.isoformat(),
                "conta_financeira": account,
                "detalhe_valor": {"valor_bruto": amount, "valor_liquido": amount}}]},
        }
        created = self.client.call("invoice.create", "POST", RECEIVABLES, body=body)
        parcels = (created or {}).get("parcelas") if isinstance(created, dict) else None
        if isinstance(parcels, list) and parcels and isinstance(parcels[0], dict) and parcels[0].get("id"):
            return Remote(str(parcels[0]["id"]), "created", fields={
                "amount": brl(invoice.amount), "due_date": invoice.due_date.isoformat(),
                "event_id": created.get("id")})
        found = self._find_receivable(invoice, customer_external_id)  # an answer without installments
        if found is None:
            raise PermanentError("Conta Azul accepted the receivable but it cannot be found yet",
                                 code="not_found_after_create")
        return _receivable(found, "created")

    def _find_receivable(self, invoice: InvoiceRecord, customer_id: str) -> dict[str, Any] | None:
        day = invoice.due_date.isoformat()
        for item in self._pages("invoice.find", {"data_vencimento_de": day, "data_vencimento_ate": day,
                                                 "ids_clientes": customer_id}):
            if item.get("referencia_externa") == invoice.id:
                return item
        return None

    def cancel_invoice(self, external_id: str, key: str) -> Remote:
        # a 404 is a receivable already deleted (a retried cancel): the outcome is the same
        self.client.call("invoice.cancel", "DELETE", f"{INSTALLMENTS}/{_safe(external_id)}", missing_ok=True)
        return Remote(external_id, "cancelled")

    # --- settlements -------------------------------------------------------------------------

    def settle(self, payment: PaymentRecord, invoice_external_id: str, key: str) -> Remote:
        path = f"{INSTALLMENTS}/{_safe(invoice_external_id)}"
        installment = self.client.call("payment.find", "GET", path)
        marker = f"despacho:{payment.id}"
        for settlement in _list(installment, "baixas"):
            if settlement.get("observacao") == marker:
                return Remote(str(settlement.get("id")), "found", fields={"amount": _amount(settlement)})
        account, _ = self._accounts()
        body = {"data_pagamento": payment.paid_at.astimezone(BRAZIL).date().isoformat(),
                "composicao_valor": {"valor_bruto": wire(payment.amount)}, "conta_financeira": account,
                "metodo_pagamento": METHODS.get(payment.method, "OUTRO"), "observacao": marker}
        created = self.client.call("payment.settle", "POST", f"{path}/baixa", body=body)
        return Remote(str(_id(created, "payment.settle")), "settled", fields={"amount": brl(payment.amount)})

    def refund(self, payment_external_id: str, amount: Decimal | None, key: str) -> Remote:
        raise PermanentError("Conta Azul is an ERP: refunds are made at the payment provider",
                             code="unsupported")

    def issue_service_invoice(self, invoice: InvoiceRecord, invoice_external_id: str, key: str) -> Remote:
        raise PermanentError("NFS-e through Conta Azul's API v2 is not supported by despacho yet",
                             code="unsupported")

    # --- polling -----------------------------------------------------------------------------

    def payments_since(self, since: datetime) -> list[RemotePayment]:
        """Settlements of installments changed since ``since`` (one poll; the caller dedupes by id)."""
        window = {"data_alteracao_de": since.astimezone(UTC).isoformat(timespec="seconds"),
                  **_due_window(since.date())}
        payments: list[RemotePayment] = []
        for item in self._pages("payments.poll", window):
            if item.get("status") not in PAID:
                continue
            path = f"{INSTALLMENTS}/{_safe(str(item['id']))}"
            installment = self.client.call("payments.fetch", "GET", path)
            payments += [_payment(s, item) for s in _list(installment, "baixas") if s.get("id")]
        return payments

    def open_receivables(self) -> list[RemoteReceivable]:
        today = datetime.now(BRAZIL).date()
        return [RemoteReceivable(str(item["id"]), item.get("referencia_externa"), _amount(item),
                                 date.fromisoformat(str(item["data_vencimento"])[:10]),
                                 str(item.get("status")))
                for item in self._pages("receivables.open", _due_window(today))
                if item.get("status") in OPEN]

    def _pages(self, operation: str, filters: dict[str, Any]) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for number in range(1, MAX_PAGES + 1):
            page = self.client.call(operation, "GET", f"{RECEIVABLES}/buscar",
                                    params={**filters, "pagina": number, "tamanho_pagina": PAGE_SIZE})
            items = _items(page, "itens")
            rows += items
            total = page.get("itens_totais") if isinstance(page, dict) else None
            if len(items) < PAGE_SIZE or (isinstance(total, int) and len(rows) >= total):
                return rows
        raise PermanentError(f"Conta Azul listed more than {MAX_PAGES} pages for {operation}",
                             code="too_many_pages")

    def _accounts(self) -> tuple[str, str]:
        if not self.settings.financial_account_id or not self.settings.category_id:
            raise PermanentError("set connectors.accounting.conta_azul.financial_account_id and category_id "
                                 "(the conta financeira and revenue category receivables go to)",
                                 code="not_configured")
        return self.settings.financial_account_id, self.settings.category_id


def build_client(settings: AccountingSettings, runtime: AdapterRuntime) -> ContaAzulClient:
    """The HTTP client with the company's tokens and the shared limits."""
    import httpx

    from connectors.accounting.conta_azul_auth import AccessTokens, ConnectionStore
    from connectors.accounting.conta_azul_client import ContaAzulClient
    from connectors.accounting.conta_azul_limits import CallLimiter
    from connectors.accounting.conta_azul_oauth import TokenEndpoint

    ca = settings.conta_azul
    if runtime.session_factory is None or runtime.secrets is None:
        raise PermanentError("Conta Azul needs the database and the secrets store (its tokens live there)",
                             code="not_configured")
    http = httpx.Client(timeout=ca.timeout)
    endpoint = TokenEndpoint(ca, http, runtime.audit)
    tokens = AccessTokens(ConnectionStore(runtime.session_factory, runtime.secrets(), ca.company), endpoint,
                          lambda: datetime.now(UTC))
    limiter = CallLimiter(ca.calls_per_second, ca.calls_per_minute, runtime.redis_url,
                          f"{ca.client_id}:{ca.company}", prefix=f"{runtime.namespace}:conta_azul")
    return ContaAzulClient(ca.api_url, http, tokens, limiter, runtime.audit)


def poll_once(adapter: ContaAzulAdapter, since: datetime, now: datetime,
              overlap: timedelta = timedelta(minutes=5)) -> tuple[list[RemotePayment], datetime]:
    """One poll: the payments, and where the next poll starts (overlapping: ids dedupe)."""
    return adapter.payments_since(since - overlap), now


def _person(customer: CustomerRecord) -> dict[str, Any]:
    body: dict[str, Any] = {"nome": customer.name[:200], "email": customer.email,
                            "telefone_celular": customer.phone, "observacao": f"despacho:{customer.id}",
                            "perfis": [{"tipo_perfil": "Cliente"}]}
    tax_id = customer.tax_id or ""
    body["tipo_pessoa"] = "Jurídica" if len(tax_id) == 14 else "Física"
    if tax_id:
        body["cnpj" if len(tax_id) == 14 else "cpf"] = tax_id
    if customer.postal_code or customer.city:
        body["enderecos"] = [{"cep": customer.postal_code, "logradouro": customer.address,
                              "cidade": customer.city, "estado": customer.state, "pais": "Brasil"}]
    return {key: value for key, value in body.items() if value is not None}


def _receivable(item: dict[str, Any], status: str) -> Remote:
    return Remote(str(item["id"]), status, fields={
        "amount": _amount(item), "due_date": str(item.get("data_vencimento"))[:10],
        "status": item.get("status")}, version=item.get("data_alteracao"))


def _payment(settlement: dict[str, Any], item: dict[str, Any]) -> RemotePayment:
    paid_on = date.fromisoformat(str(settlement.get("data_pagamento"))[:10])
    return RemotePayment(
        external_id=str(settlement["id"]), invoice_id=item.get("referencia_externa"),
        invoice_external_id=str(item["id"]), amount=_amount(settlement),
        method=OUR_METHODS.get(str(settlement.get("metodo_pagamento")), "transfer"),
        paid_at=datetime.combine(paid_on, time(12), BRAZIL).astimezone(UTC))


def _amount(row: dict[str, Any]) -> Decimal:
    for key in ("composicao_valor", "valor_composicao", "detalhe_valor"):
        if isinstance(row.get(key), dict) and "valor_bruto" in row[key]:
            return brl(row[key]["valor_bruto"])
    for key in ("total", "valor"):
        if key in row:
            return brl(row[key])
    raise PermanentError("Conta Azul answered a row without an amount", code="bad_response")


def _due_window(around: date) -> dict[str, str]:
    """``buscar`` wants a due-date range: two years either side covers every live receivable."""
    return {"data_vencimento_de": (around - timedelta(days=730)).isoformat(),
            "data_vencimento_ate": (around + timedelta(days=730)).isoformat()}


def _items(page: Any, key: str) -> list[dict[str, Any]]:
    rows = page.get(key) if isinstance(page, dict) else None
    return [row for row in rows if isinstance(row, dict)] if isinstance(rows, list) else []


def _list(row: Any, key: str) -> list[dict[str, Any]]:
    return _items(row, key)


def _id(answer: Any, operation: str) -> str:
    if isinstance(answer, dict) and isinstance(answer.get("id"), str | int) and str(answer["id"]):
        return str(answer["id"])[:100]
    raise PermanentError(f"Conta Azul answered {operation} without an id", code="bad_response")


def _safe(external_id: str) -> str:
    """An id going into a path: Conta Azul's are UUIDs; anything else never reaches the URL."""
    if not external_id or len(external_id) > 64 or not all(ch.isalnum() or ch == "-" for ch in external_id):
        raise PermanentError(f"{external_id[:70]!r} is not a Conta Azul id", code="bad_external_id")
    return external_id
