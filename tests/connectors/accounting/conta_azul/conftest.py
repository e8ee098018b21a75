"""Fixtures: the fake Conta Azul, settings pointing at it, and a company connected to it.

Both databases (``engine``) come from tests/connectors/accounting/conftest.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from connectors.accounting.adapter import AdapterRuntime, Exchange
from connectors.accounting.conta_azul import ContaAzulAdapter
from connectors.accounting.conta_azul_auth import forget_all
from connectors.accounting.conta_azul_connect import finish
from connectors.accounting.settings import AccountingSettings
from store.db import session_scope
from store.keyring import KeyRing
from store.secrets import SecretBox
from tests.fakes.conta_azul import CLIENT_ID, CLIENT_SECRET, FakeContaAzul, conta_azul_server

ACCOUNT = "c89475a2-bdf9-4e6b-ae5b-5a8e96cab946"
CATEGORY = "f91047eb-2cff-4546-80e3-0f2b54d2cce0"


@pytest.fixture
def fake() -> Iterator[FakeContaAzul]:
    forget_all()  # the access-token cache is per process: every test starts without one
    with conta_azul_server() as server:
        yield server
    forget_all()


def settings_for(fake: FakeContaAzul, **extra: Any) -> AccountingSettings:
    return AccountingSettings.model_validate({"transport": "live", "erp": "conta_azul", "conta_azul": {
        "api_url": fake.url, "auth_url": f"{fake.url}/oauth2/authorize",
        "token_uri": f"{fake.url}/oauth2/token",
        "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "timeout": 5,
        "financial_account_id": ACCOUNT, "category_id": CATEGORY, **extra}})


@pytest.fixture
def settings(fake: FakeContaAzul) -> AccountingSettings:
    return settings_for(fake)


@pytest.fixture
def box() -> SecretBox:
    return SecretBox(KeyRing((("k1", Fernet.generate_key().decode()),)))


@pytest.fixture
def audit() -> list[Exchange]:
    return []


@pytest.fixture
def runtime(engine: sa.Engine, box: SecretBox, audit: list[Exchange]) -> AdapterRuntime:
    return AdapterRuntime(audit=audit.append, session_factory=lambda: session_scope(engine),
                          secrets=lambda: box)


def consent(fake: FakeContaAzul, url: str) -> httpx.Response:
    """The user clicks 'authorise' on Conta Azul's page: the redirect back to despacho."""
    return httpx.get(url, follow_redirects=False)


@pytest.fixture
def connect(fake: FakeContaAzul, settings: AccountingSettings, engine: sa.Engine,
            box: SecretBox) -> Callable[[str], int]:
    """Connect a company without a browser: consent at the fake, code exchanged and stored."""
    def run(company: str = "default") -> int:
        from connectors.accounting.conta_azul_connect import authorize_url

        redirect = "http://localhost:9/callback"
        location = consent(fake, authorize_url(settings.conta_azul, redirect, "s")).headers["Location"]
        code = httpx.URL(location).params["code"]
        return finish(settings.conta_azul, lambda: session_scope(engine), box, company, code, redirect)
    return run


@pytest.fixture
def adapter(settings: AccountingSettings, runtime: AdapterRuntime,
            connect: Callable[[str], int]) -> ContaAzulAdapter:
    connect("default")
    return ContaAzulAdapter(settings, runtime)
