"""Shared fixtures: a throwaway project folder with rules and templates."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent

# every session scans its own log output for unmasked phones, emails and tax ids
pytest_plugins = ["tests.support.personal_data_scan"]


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file: tests copy it instead of migrating again (fresh and fast)."""
    from store.migrate import upgrade

    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def make_customer(engine: Any) -> Callable[..., Any]:
    """A customer row in the ``engine`` fixture of the calling test folder's conftest."""
    from store.db import session_scope
    from store.models import Customer

    def make(**fields: Any) -> Customer:
        values: dict[str, Any] = {"name": "Maria Souza", "phone": "+5511987654321",
                                  "email": "maria@example.com"}
        values.update(fields)
        with session_scope(engine) as s:
            customer = Customer(**values)
            s.add(customer)
        return customer
    return make


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty project: rules/, templates/ with one template per channel, cwd set to it."""
    write(tmp_path / "templates/sms/lembrete.txt", "Ola {{ data.customer.name }}, visita amanha.")
    write(tmp_path / "templates/whatsapp/lembrete.txt", "Olá {{ data.customer.name }}! Até amanhã.")
    write(tmp_path / "templates/email/lembrete.subject", "Lembrete de visita")
    write(tmp_path / "templates/email/lembrete.txt", "Olá {{ data.customer.name }}")
    write(tmp_path / "templates/email/lembrete.html", "<p>Olá {{ data.customer.name }}</p>")
    (tmp_path / "rules").mkdir()
    monkeypatch.chdir(tmp_path)
    for name in list(__import__("os").environ):
        if name.startswith("DESPACHO_"):
            monkeypatch.delenv(name)
    return tmp_path
