"""``despacho accounting connect|export``: the OAuth connect flow end to end (a real process, the
browser played by the test) and the month's export read back to the centavo."""

from __future__ import annotations

import csv
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet
from sqlmodel import select
from typer.testing import CliRunner

from cli import app
from store.billing import issue_invoice, record_payment
from store.db import make_engine, session_scope
from store.models import Customer, ServiceOrder
from store.models.accounting import AccountingConnection
from tests.fakes.conta_azul import CLIENT_ID, CLIENT_SECRET, FakeContaAzul, conta_azul_server

DESPACHO = Path(sys.executable).parent / "despacho"
runner = CliRunner()


@pytest.fixture
def fake() -> Iterator[FakeContaAzul]:
    with conta_azul_server() as server:
        yield server


def write_config(tmp_path: Path, db_url: str, fake_url: str = "http://127.0.0.1:9") -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(f"""
database:
  url: {db_url}
secrets:
  keys: "k1:{Fernet.generate_key().decode()}"
connectors:
  accounting:
    export_dir: {tmp_path / 'exports'}
    conta_azul:
      api_url: {fake_url}
      auth_url: {fake_url}/oauth2/authorize
      token_uri: {fake_url}/oauth2/token
      client_id: {CLIENT_ID}
      client_secret: {CLIENT_SECRET}
""", encoding="utf-8")
    return path


def test_connect_runs_the_authorisation_code_flow_and_stores_the_grant(
        tmp_path: Path, db_url: str, fake: FakeContaAzul) -> None:
    config = write_config(tmp_path, db_url, fake.url)
    process = subprocess.Popen(
        [str(DESPACHO), "--config", str(config), "accounting", "connect", "conta-azul", "--company",
         "Refrigeração Paulista", "--no-browser", "--port", "0", "--timeout", "60"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        url = ""
        while not url.startswith("http"):
            url = process.stdout.readline().strip()
            assert url or process.poll() is None, process.stderr.read() if process.stderr else ""
        consent = httpx.URL(url)
        assert consent.params["client_id"] == CLIENT_ID
        assert consent.params["redirect_uri"].endswith("/callback")
        forged = httpx.get(consent.params["redirect_uri"], params={"code": "stolen", "state": "guess"})
        assert forged.status_code == 400  # a page not opened from our link is refused; still waiting
        back = httpx.get(url, follow_redirects=False).headers["Location"]  # the user says yes
        assert httpx.get(back).status_code == 200  # the browser lands on the loopback receiver
        out, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert "connected Conta Azul for company 'Refrigeração Paulista' (token version 1)" in out
    engine = make_engine(db_url)
    with session_scope(engine) as s:
        row = s.exec(select(AccountingConnection)).one()
        assert (row.system, row.company, row.status) == ("conta_azul", "Refrigeração Paulista", "connected")
    engine.dispose()
    assert [r["grant_type"] for r in fake.token_requests] == ["authorization_code"]


def test_connect_refuses_a_hostile_company_name_before_anything_starts(tmp_path: Path, db_url: str) -> None:
    config = write_config(tmp_path, db_url)
    result = runner.invoke(app, ["--config", str(config), "accounting", "connect", "conta-azul", "--company",
                                 "../../etc/passwd", "--no-browser", "--port", "0"])
    assert result.exit_code == 2
    assert "is not allowed" in result.output


@pytest.fixture
def month_of_billing(db_url: str) -> None:
    """Two invoices in December 2026 (one paid in two parts), one in November, one payment in January."""
    engine = make_engine(db_url)
    at = datetime(2026, 12, 3, 15, 0, tzinfo=UTC)
    with session_scope(engine) as s:
        maria = Customer(name="Maria Conceição", tax_id="52998224725", phone="+5511987654321")
        hostile = Customer(name="=HYPERLINK(\"http://evil\")", phone="+5511987654322")
        s.add_all([maria, hostile])
        s.flush()
        orders = [ServiceOrder(customer_id=c.id, region="sp", amount="100.00")
                  for c in (maria, hostile, maria)]
        s.add_all(orders)
        s.flush()
        first = issue_invoice(s, orders[0].id, "1234.56", date(2026, 12, 15), at=at)
        issue_invoice(s, orders[1].id, "0.10", date(2026, 12, 20), at=at + timedelta(hours=1))
        issue_invoice(s, orders[2].id, "99.99", date(2026, 11, 30), at=datetime(2026, 11, 10, tzinfo=UTC))
    with session_scope(engine) as s:
        record_payment(s, first.id, "1000.01", "pix", paid_at=datetime(2026, 12, 10, 13, 0, tzinfo=UTC))
        record_payment(s, first.id, "234.55", "boleto", paid_at=datetime(2026, 12, 31, 12, 0, tzinfo=UTC))
    engine.dispose()


def export(config: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["--config", str(config), "accounting", "export", *args],
                           env={"DESPACHO_DATABASE__URL": None})
    return result.exit_code, result.output


def test_csv_export_has_the_months_invoices_and_payments_to_the_centavo(
        tmp_path: Path, db_url: str, month_of_billing: None) -> None:
    config = write_config(tmp_path, db_url)
    code, output = export(config, "--month", "2026-12")
    assert code == 0, output
    path = tmp_path / "exports" / "despacho-2026-12.csv"
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # the BOM: Excel reads UTF-8
    rows = list(csv.DictReader(raw.decode("utf-8-sig").splitlines()))
    invoices = [r for r in rows if r["record"] == "invoice"]
    payments = [r for r in rows if r["record"] == "payment"]
    assert [(r["customer"], Decimal(r["amount"]), Decimal(r["paid"]), r["status"]) for r in invoices] == [
        ("Maria Conceição", Decimal("1234.56"), Decimal("1234.56"), "paid"),
        ("'=HYPERLINK(\"http://evil\")", Decimal("0.10"), Decimal("0.00"), "issued")]
    assert invoices[0]["amount"] == "1234.56" and invoices[1]["amount"] == "0.10"
    assert invoices[0]["tax_id"] == "52998224725" and invoices[0]["due_date"] == "2026-12-15"
    assert [(r["method"], r["payment_date"], r["amount"]) for r in payments] == [
        ("pix", "2026-12-10", "1000.01"), ("boleto", "2026-12-31", "234.55")]
    assert sum(Decimal(r["amount"]) for r in payments) == Decimal("1234.56")


def test_xlsx_export_writes_numeric_cells_formatted_as_money(tmp_path: Path, db_url: str,
                                                             month_of_billing: None) -> None:
    from openpyxl import load_workbook

    config = write_config(tmp_path, db_url)
    out = tmp_path / "elsewhere" / "dezembro.xlsx"
    code, output = export(config, "--month", "2026-12", "--format", "xlsx", "--out", str(out))
    assert code == 0, output
    book = load_workbook(out)
    invoices, payments = book["Invoices"], book["Payments"]
    first = [cell for cell in invoices[2]]
    assert first[1].value == "Maria Conceição"
    assert Decimal(str(first[5].value)) == Decimal("1234.56") and first[5].number_format == "#,##0.00"
    assert Decimal(str(first[6].value)) == Decimal("1234.56")
    hostile = invoices[3][1]
    assert hostile.data_type == "s" and str(hostile.value).startswith("'=")
    amounts = [Decimal(str(row[4].value)) for row in payments.iter_rows(min_row=2)]
    assert amounts == [Decimal("1000.01"), Decimal("234.55")]
    assert invoices.max_row == 3  # November's invoice is not December's


def test_export_refuses_a_month_that_is_not_yyyy_mm(tmp_path: Path, db_url: str) -> None:
    config = write_config(tmp_path, db_url)
    code, output = export(config, "--month", "../../2026-12")
    assert code == 2 and "YYYY-MM" in output
    assert not (tmp_path / "exports").exists()
