"""Importing a company's spreadsheets: checked like the API, all or nothing, idempotent, on both databases."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from openpyxl import Workbook
from sqlmodel import Session, func, select

from store.db import session_scope
from store.imports import (
    ImportRejected,
    MappingInvalid,
    import_rows,
    integrity_report,
    load_mapping,
    read_rows,
)
from store.imports.apply import ImportReport
from store.models import Customer, Event, ImportKey, Invoice, ServiceOrder
from tests.conftest import write

CUSTOMERS = """\
Código;Nome;Celular;CPF/CNPJ;E-mail;Cidade
C-1;Maria Souza;(11) 98765-4321;529.982.247-25;maria@example.com;São Paulo
C-2;Oficina Boa Vista Ltda;21 3333-4444;11.222.333/0001-81;;Rio de Janeiro
"""
CUSTOMER_MAP = """\
source: planilha
id_column: Código
columns: {name: Nome, phone: Celular, tax_id: CPF/CNPJ, email: E-mail, city: Cidade}
"""
ORDERS = """\
OS,Cliente,Descrição,Valor,Agendada
OS-10,C-1,Troca de compressor,"1.234,56",15/01/2027 09:30
OS-11,C-2,Manutenção preventiva,350,2027-01-16T14:00:00-03:00
"""
ORDER_MAP = """\
source: planilha
id_column: OS
columns: {description: Descrição, amount: Valor, scheduled_start: Agendada}
references: {customer: Cliente}
defaults: {region: sp-capital}
"""


def run(engine: sa.Engine, tmp_path: Path, kind: str, data: str, mapping: str, *, name: str = "file.csv",
        **options: bool) -> ImportReport:
    source = write(tmp_path / name, data)
    rules = load_mapping(write(tmp_path / f"{kind}.yaml", mapping), kind)  # type: ignore[arg-type]
    with session_scope(engine) as session:
        return import_rows(session, rules, read_rows(source), file=source, **options)


def count(engine: sa.Engine, model: type) -> int:
    with Session(engine) as session:
        return int(session.exec(select(func.count()).select_from(model)).one())


def test_customers_are_imported_with_phones_in_e164_and_documents_checked(engine: sa.Engine,
                                                                          tmp_path: Path) -> None:
    report = run(engine, tmp_path, "customers", CUSTOMERS, CUSTOMER_MAP)

    assert (report.rows, report.created, report.updated) == (2, 2, 0)
    with Session(engine) as session:
        maria = session.get(Customer, report.record_ids["C-1"])
        oficina = session.get(Customer, report.record_ids["C-2"])
    assert maria is not None and oficina is not None
    assert (maria.phone, maria.tax_id, maria.city) == ("+5511987654321", "52998224725", "São Paulo")
    assert (oficina.phone, oficina.tax_id, oficina.email) == ("+552133334444", "11222333000181", None)


def test_importing_the_same_file_again_changes_nothing_and_a_changed_row_updates_its_record(
        engine: sa.Engine, tmp_path: Path) -> None:
    first = run(engine, tmp_path, "customers", CUSTOMERS, CUSTOMER_MAP)
    again = run(engine, tmp_path, "customers", CUSTOMERS, CUSTOMER_MAP)
    moved = run(engine, tmp_path, "customers", CUSTOMERS.replace("São Paulo", "Campinas"), CUSTOMER_MAP)

    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    assert (moved.created, moved.updated, moved.unchanged) == (0, 1, 1)
    assert moved.record_ids == first.record_ids
    assert count(engine, Customer) == 2 and count(engine, ImportKey) == 2


def test_bad_rows_are_each_reported_by_file_line_and_column_and_nothing_is_imported(engine: sa.Engine,
                                                                                  tmp_path: Path) -> None:
    bad = CUSTOMERS + "C-3;;(11) 98765-4321;;;\nC-4;Zé;12345;111.111.111-11;ze@;\nC-1;Repetido;;;;\n"
    with pytest.raises(ImportRejected) as caught:
        run(engine, tmp_path, "customers", bad, CUSTOMER_MAP)

    found = [(p.line, p.column) for p in caught.value.problems]
    assert found == [(4, "Nome"), (5, "E-mail"), (6, "Código")]  # a row stops at its first bad value
    assert all(p.file.endswith("file.csv") for p in caught.value.problems)
    assert "nothing was imported" in str(caught.value)
    assert "also on line 2" in caught.value.problems[-1].message
    assert count(engine, Customer) == 0 and count(engine, ImportKey) == 0


def test_each_bad_value_of_a_row_is_named_the_first_it_meets(engine: sa.Engine, tmp_path: Path) -> None:
    data = "Código;Nome;Celular;CPF/CNPJ;E-mail;Cidade\nC-9;Zé;(11) 98765-4321;111.111.111-11;;\n"
    with pytest.raises(ImportRejected) as caught:
        run(engine, tmp_path, "customers", data, CUSTOMER_MAP)
    [problem] = caught.value.problems
    assert (problem.line, problem.column) == (2, "CPF/CNPJ")


def test_orders_refer_to_customers_by_the_source_ids_and_take_brazilian_amounts_and_dates(
        engine: sa.Engine, tmp_path: Path) -> None:
    customers = run(engine, tmp_path, "customers", CUSTOMERS, CUSTOMER_MAP)
    orders = run(engine, tmp_path, "orders", ORDERS, ORDER_MAP, name="orders.csv")

    with Session(engine) as session:
        first = session.get(ServiceOrder, orders.record_ids["OS-10"])
        second = session.get(ServiceOrder, orders.record_ids["OS-11"])
    assert first is not None and second is not None
    assert first.customer_id == customers.record_ids["C-1"] and first.region == "sp-capital"
    assert first.amount == Decimal("1234.56") and second.amount == Decimal("350.00")
    assert first.scheduled_start is not None
    # 09:30 in São Paulo
    assert first.scheduled_start.replace(tzinfo=UTC) == datetime(2027, 1, 15, 12, 30, tzinfo=UTC)
    assert count(engine, Event) == 0  # history fires no events unless asked


def test_an_order_naming_a_customer_never_imported_is_refused_at_that_column(engine: sa.Engine,
                                                                             tmp_path: Path) -> None:
    run(engine, tmp_path, "customers", CUSTOMERS, CUSTOMER_MAP)
    with pytest.raises(ImportRejected) as caught:
        run(engine, tmp_path, "orders", ORDERS.replace("OS-11,C-2", "OS-11,C-77"), ORDER_MAP, name="o.csv")
    [problem] = caught.value.problems
    assert (problem.line, problem.column) == (3, "Cliente")
    assert "no customers row with id 'C-77' was imported from 'planilha'" in problem.message
    assert count(engine, ServiceOrder) == 0


def test_events_are_recorded_for_new_orders_only_when_asked(engine: sa.Engine, tmp_path: Path) -> None:
    run(engine, tmp_path, "customers", CUSTOMERS, CUSTOMER_MAP)
    report = run(engine, tmp_path, "orders", ORDERS, ORDER_MAP, name="o.csv", emit_events=True)
    again = run(engine, tmp_path, "orders", ORDERS, ORDER_MAP, name="o.csv", emit_events=True)

    assert (report.events, again.events) == (2, 0)
    with Session(engine) as session:
        types = [event.type for event in session.exec(select(Event))]
    assert types == ["service_order.created", "service_order.created"]


def test_a_dry_run_checks_everything_and_changes_nothing(engine: sa.Engine, tmp_path: Path) -> None:
    report = run(engine, tmp_path, "customers", CUSTOMERS, CUSTOMER_MAP, dry_run=True)
    assert (report.dry_run, report.created) == (True, 2)
    assert count(engine, Customer) == 0 and count(engine, ImportKey) == 0


def test_invoices_from_an_xlsx_take_date_and_number_cells_to_the_centavo(engine: sa.Engine,
                                                                          tmp_path: Path) -> None:
    run(engine, tmp_path, "customers", CUSTOMERS, CUSTOMER_MAP)
    run(engine, tmp_path, "orders", ORDERS, ORDER_MAP, name="o.csv")
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Fatura", "OS", "Número", "Valor", "Vencimento"])
    sheet.append(["F-1", "OS-10", "NF-2027-001", 1234.56, datetime(2027, 2, 10)])
    sheet.append(["F-2", "OS-11", "NF-2027-002", "99,9", "28/02/2027"])
    book.save(tmp_path / "faturas.xlsx")
    mapping = write(tmp_path / "invoices.yaml", """\
        source: planilha
        kind: invoices
        id_column: Fatura
        columns: {number: Número, amount: Valor, due_date: Vencimento}
        references: {order: OS}
        """)
    with session_scope(engine) as session:
        report = import_rows(session, load_mapping(mapping, "invoices"), read_rows(tmp_path / "faturas.xlsx"),
                             file=tmp_path / "faturas.xlsx")
    with Session(engine) as session:
        first = session.get(Invoice, report.record_ids["F-1"])
        second = session.get(Invoice, report.record_ids["F-2"])
    assert first is not None and second is not None
    assert (first.amount, first.due_date) == (Decimal("1234.56"), date(2027, 2, 10))
    assert first.number == "NF-2027-001"
    assert (second.amount, second.due_date) == (Decimal("99.90"), date(2027, 2, 28))


def test_the_integrity_report_counts_tables_and_flags_customers_sharing_a_phone(engine: sa.Engine,
                                                                                tmp_path: Path) -> None:
    twins = CUSTOMERS + "C-3;Maria S.;11 98765 4321;;;São Paulo\n"
    run(engine, tmp_path, "customers", twins, CUSTOMER_MAP)
    with Session(engine) as session:
        report = integrity_report(session)
    assert report["counts"]["customers"] == 3
    assert report["duplicates"]["customers_by_phone"] == [{"value": "+5511987654321", "customers": 2}]


def test_a_mapping_naming_a_field_despacho_does_not_have_is_refused_naming_it(tmp_path: Path) -> None:
    mapping = write(tmp_path / "m.yaml", "source: planilha\nid_column: Código\ncolumns: {nome: Nome}\n")
    with pytest.raises(MappingInvalid, match=r"m.yaml: columns: nome is not a field of customers"):
        load_mapping(mapping, "customers")


def test_a_mapping_without_a_required_field_says_which(tmp_path: Path) -> None:
    mapping = write(tmp_path / "m.yaml", "source: planilha\nid_column: OS\ncolumns: {description: D}\n")
    with pytest.raises(MappingInvalid, match=r"orders need region, customer"):
        load_mapping(mapping, "orders")


def test_a_header_without_a_mapped_column_is_reported_on_line_one(engine: sa.Engine, tmp_path: Path) -> None:
    with pytest.raises(ImportRejected) as caught:
        run(engine, tmp_path, "customers", CUSTOMERS.replace("Celular", "Telefone"), CUSTOMER_MAP)
    [problem] = caught.value.problems
    assert (problem.line, problem.column) == (1, "Celular")
