"""1,000 invoices pushed to each vendor's fake through despacho vs bare httpx doing the same requests.

Issue 13: "Benchmark pushing 1,000 invoices to each fake through despacho against bare httpx calls
doing the same requests: ratio >= 0.5 within each vendor's rate limit."

Through despacho means the accounting connector's own path, as a step runs it:
``AccountingConnector.execute(sync_invoice)`` -> ``Sync`` (the invoice and customer read from the
database, sync records, conflict check, an audit row per exchange, the step's effect recorded) ->
the vendor's adapter (bodies from our records, Decimal money, error classification, rate limiter)
-> httpx. The database is a migrated SQLite file (the embedded default) holding 1,000 issued
invoices of one customer (a valid CPF), made before the clock starts. Bare is a loop of httpx calls
making the same HTTP requests for the same invoices (checked: the fake counts the requests of both
sides per invoice and the bench prints them), on one keep-alive connection.

Each side runs against a fresh fake in this process (the fakes' lists grow with every invoice, so
an older fake would slow whichever side comes second); bare runs before and after despacho and the
ratio is despacho / mean(bare).

Rate limits: Asaas publishes none this loop reaches. Omie allows 960 calls/min per IP (240 per
method) and Conta Azul 600/min and 10/s: within them, 1,000 invoices take minutes on either side and
both rates equal the limit (ratio 1.0, measuring nothing). So both sides run unthrottled: the Omie
and Conta Azul settings get limits of 10^7/min (and /s) — despacho's limiter still runs (in memory:
the embedded mode; with a Redis broker the limits are shared through Redis) and is counted, it just
never makes a call wait. The output says so.

Run: .venv/bin/python bench/bench_accounting_push.py [--count 1000] [--vendor asaas|omie|conta_azul]
Target: despacho / bare >= 0.5 per vendor.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
import sqlalchemy as sa

from connectors.accounting import AccountingConnector, AccountingSettings
from connectors.accounting.connector import SyncInvoiceParams
from connectors.base import ActionCall, Runtime
from store.db import make_engine, session_scope
from store.migrate import upgrade

CPF = "52998224725"
AMOUNT = "310.05"
UNLIMITED = 10_000_000  # calls per minute (and per second) given to Omie's and Conta Azul's limiters
# the vendors' own limits, in calls per second: Omie 960/min per IP, Conta Azul 10/s (and 600/min)
VENDOR_CALLS_PER_SECOND = {"omie": 960 / 60, "conta_azul": 10.0}


def due(n: int) -> date:
    """Invoices fall due over a month, as a company's do (Conta Azul's duplicate check lists a day's)."""
    return date.today() + timedelta(days=12 + n % 30)


@dataclass
class Database:
    engine: sa.Engine
    invoice_ids: list[str]
    customer_id: str


def database(root: Path, count: int) -> Database:
    """A migrated SQLite file with one customer and ``count`` issued invoices (untimed)."""
    from store.billing import issue_invoice
    from store.models import Customer
    from store.service_orders import create_order

    url = f"sqlite:///{root / 'despacho.db'}"
    upgrade(url)
    engine = make_engine(url)
    with session_scope(engine) as s:
        customer = Customer(
            name="Maria Souza",
            phone="+5511987654321",
            email="maria@example.com",
            tax_id=CPF,
            address="Rua Vergueiro, 1000",
            city="São Paulo",
            state="SP",
            postal_code="01504-000",
        )
        s.add(customer)
        s.flush()
        ids = []
        for n in range(count):
            order = create_order(
                s, customer_id=customer.id, region="sp-centro", amount=AMOUNT, description=f"Manutenção {n}"
            )
            ids.append(issue_invoice(s, order.id, AMOUNT, due(n)).id)
        return Database(engine, ids, customer.id)


def push_through_despacho(db: Database, settings: AccountingSettings, secrets: Any = None) -> float:
    """Invoices per second through ``AccountingConnector.execute`` (one step each)."""
    runtime = Runtime(
        outbox=Path(tempfile.mkdtemp()), session=partial(session_scope, db.engine), secrets=secrets
    )
    connector = AccountingConnector(settings, runtime)
    started = time.perf_counter()
    for n, invoice_id in enumerate(db.invoice_ids):
        connector.execute(
            ActionCall(
                action="sync_invoice",
                params=SyncInvoiceParams(invoice_id=invoice_id),
                idempotency_key=f"bench:{n}:0",
                rule_id="bench",
                step_id=f"s{n}",
            )
        )
    return len(db.invoice_ids) / (time.perf_counter() - started)


# --- Asaas --------------------------------------------------------------------------------------


def asaas_despacho(count: int, root: Path) -> tuple[float, int]:
    from tests.fakes.asaas import API_KEY, asaas_server

    db = database(root, count)
    with asaas_server() as fake:
        settings = AccountingSettings.model_validate(
            {"transport": "live", "payments": "asaas", "asaas": {"api_url": fake.url, "api_key": API_KEY}}
        )
        rate = push_through_despacho(db, settings)
        return rate, len(fake.requests)


def asaas_bare(count: int) -> tuple[float, int]:
    """The requests ``AsaasAdapter`` makes: the customer once (search, create), then per invoice the
    search by externalReference, the create, the PIX QR code and the boleto line."""
    from tests.fakes.asaas import API_KEY, asaas_server

    with (
        asaas_server() as fake,
        httpx.Client(base_url=fake.url + "/", headers={"access_token": API_KEY}) as client,
    ):
        started = time.perf_counter()
        client.get("customers", params={"cpfCnpj": CPF, "limit": 10}).json()
        customer = client.post(
            "customers",
            json={
                "name": "Maria Souza",
                "cpfCnpj": CPF,
                "externalReference": "c-bare",
                "email": "maria@example.com",
                "mobilePhone": "11987654321",
                "address": "Rua Vergueiro, 1000",
                "postalCode": "01504000",
            },
        ).json()["id"]
        for n in range(count):
            client.get("payments", params={"externalReference": f"b-{n}", "limit": 10}).json()
            charge = client.post(
                "payments",
                json={
                    "customer": customer,
                    "billingType": "UNDEFINED",
                    "value": 310.05,
                    "dueDate": due(n).isoformat(),
                    "externalReference": f"b-{n}",
                    "description": f"FAT-{n} — Manutenção {n}",
                },
            ).json()
            client.get(f"payments/{charge['id']}/pixQrCode").json()
            client.get(f"payments/{charge['id']}/identificationField").json()
        return count / (time.perf_counter() - started), len(fake.requests)


# --- Omie ---------------------------------------------------------------------------------------


def omie_settings(url: str) -> AccountingSettings:
    from tests.fakes.omie import APP_KEY, APP_SECRET

    return AccountingSettings.model_validate(
        {
            "transport": "live",
            "erp": "omie",
            "omie": {
                "api_url": url,
                "app_key": APP_KEY,
                "app_secret": APP_SECRET,
                "account_code": 4242,
                "calls_per_minute": UNLIMITED,
                "calls_per_method_minute": UNLIMITED,
            },
        }
    )


def omie_despacho(count: int, root: Path) -> tuple[float, int]:
    from tests.fakes.omie import omie_server

    db = database(root, count)
    with omie_server() as fake:
        rate = push_through_despacho(db, omie_settings(fake.url))
        return rate, len(fake.calls)


def omie_bare(count: int) -> tuple[float, int]:
    """Omie's calls for the same invoices: the customer upserted once, then per invoice the
    receivable included (its body as the adapter builds it, with our integration code)."""
    from tests.fakes.omie import APP_KEY, APP_SECRET, omie_server

    def call(client: httpx.Client, module: str, method: str, param: dict[str, Any]) -> dict[str, Any]:
        answer = client.post(
            f"{module}/",
            json={"call": method, "app_key": APP_KEY, "app_secret": APP_SECRET, "param": [param]},
        )
        answer.raise_for_status()
        return dict(answer.json())

    with omie_server() as fake, httpx.Client(base_url=fake.url.rstrip("/") + "/") as client:
        started = time.perf_counter()
        customer = call(
            client,
            "geral/clientes",
            "UpsertCliente",
            {
                "codigo_cliente_integracao": "c-bare",
                "razao_social": "Maria Souza",
                "nome_fantasia": "Maria Souza",
                "email": "maria@example.com",
                "endereco": "Rua Vergueiro, 1000",
                "cidade": "São Paulo",
                "estado": "SP",
                "cep": "01504-000",
                "cnpj_cpf": "529.982.247-25",
                "pessoa_fisica": "S",
                "telefone1_ddd": "11",
                "telefone1_numero": "987654321",
            },
        )["codigo_cliente_omie"]
        for n in range(count):
            day = due(n).strftime("%d/%m/%Y")
            call(
                client,
                "financas/contareceber",
                "IncluirContaReceber",
                {
                    "codigo_lancamento_integracao": f"b{n:019d}",
                    "data_vencimento": day,
                    "data_previsao": day,
                    "valor_documento": 310.05,
                    "codigo_categoria": "1.01.02",
                    "numero_documento": f"FAT-{n}",
                    "observacao": f"Manutenção {n}",
                    "codigo_cliente_fornecedor": customer,
                    "id_conta_corrente": 4242,
                },
            )
        return count / (time.perf_counter() - started), len(fake.calls)


# --- Conta Azul ---------------------------------------------------------------------------------


@contextmanager
def conta_azul_connected(root: Path | None, count: int) -> Iterator[tuple[Any, AccountingSettings, Any, Any]]:
    """The fake, settings pointing at it, and (with a database) a company connected through OAuth."""
    from cryptography.fernet import Fernet

    from connectors.accounting.conta_azul_auth import forget_all
    from connectors.accounting.conta_azul_connect import authorize_url, finish
    from store.keyring import KeyRing
    from store.secrets import SecretBox
    from tests.fakes.conta_azul import CLIENT_ID, CLIENT_SECRET, conta_azul_server

    forget_all()
    with conta_azul_server() as fake:
        settings = AccountingSettings.model_validate(
            {
                "transport": "live",
                "erp": "conta_azul",
                "conta_azul": {
                    "api_url": fake.url,
                    "auth_url": f"{fake.url}/oauth2/authorize",
                    "token_uri": f"{fake.url}/oauth2/token",
                    "client_id": CLIENT_ID,
                    "client_secret": CLIENT_SECRET,
                    "timeout": 5,
                    "financial_account_id": "c89475a2-bdf9-4e6b-ae5b-5a8e96cab946",
                    "category_id": "f91047eb-2cff-4546-80e3-0f2b54d2cce0",
                    "calls_per_second": UNLIMITED,
                    "calls_per_minute": UNLIMITED,
                },
            }
        )
        box = SecretBox(KeyRing((("k1", Fernet.generate_key().decode()),)))
        db = database(root, count) if root is not None else None
        if db is not None:
            redirect = "http://localhost:9/callback"
            location = httpx.get(authorize_url(settings.conta_azul, redirect, "s")).headers["Location"]
            code = httpx.URL(location).params["code"]
            finish(settings.conta_azul, partial(session_scope, db.engine), box, "default", code, redirect)
        yield fake, settings, box, db
    forget_all()


def conta_azul_despacho(count: int, root: Path) -> tuple[float, int]:
    with conta_azul_connected(root, count) as (fake, settings, box, db):
        before = len(fake.requests)
        rate = push_through_despacho(db, settings, secrets=lambda: box)
        return rate, len(fake.requests) - before


def conta_azul_bare(count: int) -> tuple[float, int]:
    """The same API calls: a bearer token taken once, the person searched and created once, then
    per invoice the receivable created (its body as the adapter builds it)."""
    from tests.fakes.conta_azul import CLIENT_ID, CLIENT_SECRET, RECEIVABLES

    with conta_azul_connected(None, count) as (fake, settings, _box, _db):
        ca = settings.conta_azul
        token = httpx.post(
            f"{fake.url}/oauth2/token",
            auth=(CLIENT_ID, CLIENT_SECRET),
            data={
                "grant_type": "authorization_code",
                "redirect_uri": "http://localhost:9/callback",
                "code": _code(fake.url),
            },
        ).json()["access_token"]
        with httpx.Client(base_url=fake.url, headers={"Authorization": f"Bearer {token}"}) as client:
            account, category = ca.financial_account_id, ca.category_id
            before = len(fake.requests)
            started = time.perf_counter()
            client.get("/v1/pessoas", params={"busca_textual": CPF, "pagina": 1, "tamanho_pagina": 10}).json()
            person = client.post(
                "/v1/pessoas",
                json={
                    "nome": "Maria Souza",
                    "email": "maria@example.com",
                    "telefone_celular": "+5511987654321",
                    "observacao": "despacho:c-bare",
                    "perfis": [{"tipo_perfil": "Cliente"}],
                    "tipo_pessoa": "Física",
                    "cpf": CPF,
                    "enderecos": [
                        {
                            "cep": "01504-000",
                            "logradouro": "Rua Vergueiro, 1000",
                            "cidade": "São Paulo",
                            "estado": "SP",
                            "pais": "Brasil",
                        }
                    ],
                },
            ).json()["id"]
            for n in range(count):
                day, reference = due(n).isoformat(), f"b-{n}"
                found = _find_receivable(client, RECEIVABLES, day, person, reference)
                assert found is None
                answer = client.post(
                    RECEIVABLES,
                    json={
                        "data_competencia": day,
                        "valor": 310.05,
                        "descricao": f"FAT-{n} Manutenção {n}",
                        "observacao": f"despacho:{reference}",
                        "referencia_externa": reference,
                        "id_cliente": person,
                        "conta_financeira": account,
                        "rateio": [{"id_categoria": category, "valor": 310.05}],
                        "condicao_pagamento": {
                            "parcelas": [
                                {
                                    "descricao": "Parcela 1",
                                    "data_vencimento": day,
                                    "conta_financeira": account,
                                    "detalhe_valor": {"valor_bruto": 310.05, "valor_liquido": 310.05},
                                }
                            ]
                        },
                    },
                )
                answer.raise_for_status()
            return count / (time.perf_counter() - started), len(fake.requests) - before


def _find_receivable(
    client: httpx.Client, receivables: str, day: str, person: str, reference: str
) -> dict[str, Any] | None:
    """The adapter's check before a create (a lost answer must not make a second receivable)."""
    rows: list[dict[str, Any]] = []
    for number in range(1, 51):
        page = client.get(
            f"{receivables}/buscar",
            params={
                "data_vencimento_de": day,
                "data_vencimento_ate": day,
                "ids_clientes": person,
                "pagina": number,
                "tamanho_pagina": 100,
            },
        ).json()
        rows += page["itens"]
        if len(page["itens"]) < 100 or len(rows) >= page["itens_totais"]:
            break
    return next((row for row in rows if row.get("referencia_externa") == reference), None)


def _code(url: str) -> str:
    from tests.fakes.conta_azul import CLIENT_ID

    location = httpx.get(
        f"{url}/oauth2/authorize",
        params={
            "response_type": "code",
            "client_id": CLIENT_ID,
            "redirect_uri": "http://localhost:9/callback",
            "state": "s",
        },
    ).headers["Location"]
    return str(httpx.URL(location).params["code"])


# --- the runs -----------------------------------------------------------------------------------

VENDORS: dict[str, tuple[Callable[[int, Path], tuple[float, int]], Callable[[int], tuple[float, int]]]] = {
    "asaas": (asaas_despacho, asaas_bare),
    "omie": (omie_despacho, omie_bare),
    "conta_azul": (conta_azul_despacho, conta_azul_bare),
}


def measure(vendor: str, count: int) -> float:
    ours_fn, bare_fn = VENDORS[vendor]
    raw, raw_requests = bare_fn(count)
    with tempfile.TemporaryDirectory() as root:
        ours, our_requests = ours_fn(count, Path(root))
    raw_again, _ = bare_fn(count)
    ratio = ours / ((raw + raw_again) / 2)
    print(
        f"{vendor:11s} bare {raw:7.1f} then {raw_again:7.1f}/s ({raw_requests / count:.2f} requests per "
        f"invoice)  despacho {ours:7.1f}/s ({our_requests / count:.2f} requests per invoice)  "
        f"ratio {ratio:.2f}",
        flush=True,
    )
    limit = VENDOR_CALLS_PER_SECOND.get(vendor)
    if limit is not None:
        allowed = limit / (our_requests / count)
        print(
            f"{'':11s} within {vendor}'s limit ({limit:g} calls/s) at most {allowed:.1f} invoices/s: "
            "despacho "
            f"is {ours / allowed:.1f}x that, so there both sides run at the limit (ratio 1.0)",
            flush=True,
        )
    return ratio


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--vendor", choices=sorted(VENDORS), action="append")
    args = parser.parse_args()
    print(
        f"{args.count} invoices per side; Omie and Conta Azul limits set to {UNLIMITED:,}/min (and /s) on "
        "despacho's side, none on bare's (see the module docstring); target ratio >= 0.5"
    )
    ratios = {vendor: measure(vendor, args.count) for vendor in args.vendor or list(VENDORS)}
    print("ratios: " + ", ".join(f"{v} {r:.2f}" for v, r in ratios.items()))


if __name__ == "__main__":
    main()
