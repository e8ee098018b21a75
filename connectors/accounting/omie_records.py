"""Our records as Omie's ``param`` objects, and Omie's answers back as our results.

Field names, sizes and formats are Omie's (dates ``dd/mm/yyyy`` in São Paulo time, money with two
decimals, CPF/CNPJ with punctuation). Text that would not fit an Omie field is refused with the
field named rather than cut: a truncated legal name on an NFS-e is worse than a failed step.
"""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from connectors.accounting.adapter import (
    CustomerRecord,
    InvoiceRecord,
    PaymentRecord,
    RemotePayment,
    RemoteReceivable,
)
from connectors.accounting.banking_days import next_banking_day
from connectors.accounting.money import brl, wire
from connectors.accounting.omie_faults import clean
from connectors.accounting.settings import OmieSettings
from errors import PermanentError

ZONE = ZoneInfo("America/Sao_Paulo")  # Omie's dates and times are the company's, in Brazil
CLIENT_CODE_MAX = 60  # codigo_cliente_integracao
CODE_MAX = 20  # codigo_lancamento_integracao, codigo_baixa_integracao, cCodIntOS
_PHONE = re.compile(r"^\+55(\d{2})(\d{8,9})$")
_DATE = re.compile(r"^(\d{2})/(\d{2})/(\d{4})$")
_TIME = re.compile(r"^(\d{2}):(\d{2}):(\d{2})$")


def integration_code(our_id: str, limit: int = CODE_MAX) -> str:
    """Our id as an Omie integration code: itself when it fits, else a stable 20-character digest.

    The same id always gives the same code, which is what makes a retried create find the first
    one; mapping back goes through the sync record's ``external_id`` (Omie's own number).
    """
    if len(our_id) <= limit and our_id.isprintable():
        return our_id
    digest = base64.b32encode(hashlib.sha256(our_id.encode()).digest()).decode().lower()
    return digest[:limit]


def text(field: str, value: str | None, limit: int) -> str:
    if value is None:
        return ""
    flat = " ".join(value.split())
    if len(flat) > limit:
        raise PermanentError(f"{field} has {len(flat)} characters; Omie takes at most {limit}",
                             code="too_long")
    return flat


def omie_date(day: date) -> str:
    return day.strftime("%d/%m/%Y")


def parse_date(field: str, value: Any) -> date:
    match = _DATE.match(str(value or ""))
    if not match:
        raise PermanentError(f"Omie sent {field} '{clean(value)}', not dd/mm/yyyy", code="bad_response")
    try:
        return date(int(match[3]), int(match[2]), int(match[1]))
    except ValueError as exc:
        raise PermanentError(f"Omie sent {field} '{clean(value)}', not a date", code="bad_response") from exc


def formatted_tax_id(compact: str) -> str:
    """CPF ``123.456.789-09``, CNPJ ``12.ABC.345/01DE-35`` (alphanumeric CNPJs keep the same mask)."""
    if len(compact) == 11:
        return f"{compact[:3]}.{compact[3:6]}.{compact[6:9]}-{compact[9:]}"
    return f"{compact[:2]}.{compact[2:5]}.{compact[5:8]}/{compact[8:12]}-{compact[12:]}"


def customer_param(customer: CustomerRecord) -> dict[str, Any]:
    name = text("customer name", customer.name, 60)
    if not name:
        raise PermanentError("the customer has no name; Omie requires razao_social", code="invalid")
    param: dict[str, Any] = {
        "codigo_cliente_integracao": integration_code(customer.id, CLIENT_CODE_MAX),
        "razao_social": name, "nome_fantasia": name,
        "email": text("customer email", customer.email, 500),
        "endereco": text("customer address", customer.address, 60),
        "cidade": text("customer city", customer.city, 60),
        "estado": text("customer state", customer.state, 2).upper(),
        "cep": text("customer postal code", customer.postal_code, 10),
    }
    if customer.tax_id:
        param["cnpj_cpf"] = formatted_tax_id(_checked_tax_id(customer.tax_id))
        param["pessoa_fisica"] = "S" if len(customer.tax_id) == 11 else "N"
    phone = _PHONE.match(customer.phone or "")
    if phone:
        param["telefone1_ddd"], param["telefone1_numero"] = phone[1], phone[2]
    return {key: value for key, value in param.items() if value != ""}


def _checked_tax_id(value: str) -> str:
    from store.errors import ValidationFailed
    from store.tax_ids import normalize_tax_id

    try:
        compact = normalize_tax_id("customer tax_id", value)
    except ValidationFailed as exc:
        raise PermanentError(str(exc), code="invalid_tax_id") from exc
    assert compact is not None  # a non-empty value normalises to text or raises
    return compact


def receivable_param(invoice: InvoiceRecord, customer_external_id: str,
                     settings: OmieSettings) -> dict[str, Any]:
    amount = brl(invoice.amount)
    if amount <= 0:
        raise PermanentError(f"invoice {invoice.number} amount {amount} is not positive", code="bad_amount")
    due = omie_date(next_banking_day(invoice.due_date))
    param: dict[str, Any] = {
        "codigo_lancamento_integracao": integration_code(invoice.id),
        "data_vencimento": due, "data_previsao": due,
        "valor_documento": wire(amount), "codigo_categoria": settings.category_code,
        "numero_documento": text("invoice number", invoice.number, 20),
        "observacao": text("invoice description", invoice.description, 2000),
    }
    if _is_number(customer_external_id):
        param["codigo_cliente_fornecedor"] = int(customer_external_id)
    else:
        param["codigo_cliente_fornecedor_integracao"] = integration_code(invoice.customer.id, CLIENT_CODE_MAX)
    if settings.account_code is not None:
        param["id_conta_corrente"] = settings.account_code
    return param


def settlement_param(payment: PaymentRecord, receivable_id: str, settings: OmieSettings) -> dict[str, Any]:
    amount = brl(payment.amount)
    if amount <= 0:
        raise PermanentError(f"payment amount {amount} is not positive", code="bad_amount")
    if settings.account_code is None:
        raise PermanentError("connectors.accounting.omie.account_code is needed to settle a receivable "
                             "(the codigo_conta_corrente the money lands in)", code="not_configured")
    return {
        "codigo_lancamento": omie_number("receivable", receivable_id),
        "codigo_baixa_integracao": integration_code(payment.id),
        "codigo_conta_corrente": settings.account_code,
        "valor": wire(amount),
        "data": omie_date(payment.paid_at.astimezone(ZONE).date()),
        "observacao": f"despacho: pagamento {payment.method}",
    }


def service_order_param(invoice: InvoiceRecord, settings: OmieSettings) -> dict[str, Any]:
    """``IncluirOS``: one service line for the invoice, ready to invoice (etapa 50).

    ``cNaoGerarFinanceiro`` = S: the receivable already exists (``push_invoice``); without it
    invoicing the order would make a second one.
    """
    amount = brl(invoice.amount)
    service: dict[str, Any] = {
        "cDescServ": text("invoice description", invoice.description, 2000) or f"Fatura {invoice.number}",
        "nQtde": 1, "nValUnit": wire(amount), "cNaoGerarFinanceiro": "S",
    }
    if settings.service_code:
        service["nCodServico"] = omie_number("service_code", settings.service_code)
    additional: dict[str, Any] = {"cCodCateg": settings.category_code,
                                  "cDadosAdicNF": f"Fatura {text('invoice number', invoice.number, 20)}"}
    if settings.account_code is not None:
        additional["nCodCC"] = settings.account_code
    return {
        "Cabecalho": {
            "cCodIntOS": integration_code(invoice.order_id or invoice.id),
            "cCodIntCli": integration_code(invoice.customer.id, CLIENT_CODE_MAX),
            "cEtapa": "50", "dDtPrevisao": omie_date(next_banking_day(invoice.due_date)),
            "nQtdeParc": 1, "nValorTotal": wire(amount),
        },
        "InformacoesAdicionais": additional,
        "ServicosPrestados": [service],
    }


def omie_number(field: str, value: Any) -> int:
    """Omie's ids are integers; anything else in our sync record is a bug to stop on, not send."""
    number = str(value)
    if not _is_number(number) or len(number) > 18:
        raise PermanentError(f"'{clean(value)}' is not an Omie {field} id", code="bad_external_id")
    return int(number)


def _is_number(text: str) -> bool:
    return text.isascii() and text.isdigit()  # "１２３" is digits to Python, not to Omie


def receivable_fields(record: dict[str, Any]) -> dict[str, Any]:
    return {"amount": str(positive(record.get("valor_documento"))),
            "due_date": parse_date("data_vencimento", record.get("data_vencimento")).isoformat(),
            "status": clean(record.get("status_titulo") or "")}


def changed_at(record: dict[str, Any]) -> datetime | None:
    """When Omie last changed the record (``info.dAlt``/``hAlt``): its version, and the payment
    time of a received one."""
    info = record.get("info") if isinstance(record.get("info"), dict) else {}
    if not info or not info.get("dAlt"):
        return None
    day = parse_date("info.dAlt", info["dAlt"])
    clock = _TIME.match(str(info.get("hAlt") or ""))
    moment = time(int(clock[1]), int(clock[2]), int(clock[3])) if clock and int(clock[1]) < 24 \
        and int(clock[2]) < 60 and int(clock[3]) < 60 else time(0, 0)
    return datetime.combine(day, moment, ZONE)


def payment_of(record: dict[str, Any]) -> RemotePayment:
    number = omie_number("receivable", record.get("codigo_lancamento_omie"))
    code = clean(record.get("codigo_lancamento_integracao") or "")
    paid_at = changed_at(record) or datetime.combine(
        parse_date("data_vencimento", record.get("data_vencimento")), time(0, 0), ZONE)
    return RemotePayment(external_id=f"{number}:recebido", invoice_id=code or None,
                         invoice_external_id=str(number), amount=positive(record.get("valor_documento")),
                         method="transfer", paid_at=paid_at)


def receivable_of(record: dict[str, Any]) -> RemoteReceivable:
    code = clean(record.get("codigo_lancamento_integracao") or "")
    return RemoteReceivable(external_id=str(omie_number("receivable", record.get("codigo_lancamento_omie"))),
                            invoice_id=code or None, amount=positive(record.get("valor_documento")),
                            due_date=parse_date("data_vencimento", record.get("data_vencimento")),
                            status=clean(record.get("status_titulo") or ""))


def positive(value: Any) -> Decimal:
    """An amount Omie sent: money (``brl`` refuses "1e999", NaN...), not negative."""
    amount = brl(value)
    if amount < 0:
        raise PermanentError(f"Omie sent a negative amount {amount}", code="bad_response")
    return amount
