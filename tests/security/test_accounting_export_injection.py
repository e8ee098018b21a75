"""The accountant's export: customer names are data, and data must not become spreadsheet formulas."""

from __future__ import annotations

import csv
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from commands.export_files import write_csv, write_xlsx
from store.accounting_export import BadMonth, InvoiceLine, MonthExport, PaymentLine, month_bounds

HOSTILE = ["=cmd|' /C calc'!A0", "+SUM(A1:A9)", "-2+3", "@SUM(1)", "\t=1", "\r=1"]


def export_of(names: list[str]) -> MonthExport:
    return MonthExport("2026-12", [
        InvoiceLine(f"FAT-{n}", name, None, date(2026, 12, 1), date(2026, 12, 10), Decimal("10.00"),
                    Decimal("0.00"), "issued") for n, name in enumerate(names)
    ], [PaymentLine("FAT-0", names[0], None, date(2026, 12, 2), Decimal("10.00"), "pix")])


def test_csv_cells_that_would_be_formulas_are_prefixed(tmp_path: Path) -> None:
    path = write_csv(export_of(HOSTILE), tmp_path / "x.csv")
    rows = list(csv.DictReader(path.read_text(encoding="utf-8-sig").splitlines()))
    assert all(row["customer"].startswith("'") for row in rows)


def test_xlsx_cells_that_would_be_formulas_stay_text(tmp_path: Path) -> None:
    from openpyxl import load_workbook

    path = write_xlsx(export_of(HOSTILE), tmp_path / "x.xlsx")
    sheet = load_workbook(path)["Invoices"]
    customers = [row[1] for row in sheet.iter_rows(min_row=2)]
    assert all(cell.data_type == "s" and str(cell.value).startswith("'") for cell in customers)


@pytest.mark.parametrize("month", ["2026-13", "2026-1", "../2026-12", "2026-12/../../x", "", "2026-12\n"])
def test_a_month_that_is_not_yyyy_mm_is_refused(month: str) -> None:
    with pytest.raises(BadMonth):
        month_bounds(month, "America/Sao_Paulo")
