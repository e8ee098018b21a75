"""The month's export as files an accountant opens: CSV (UTF-8 with BOM) or XLSX.

CSV: comma-separated, ``.`` as the decimal mark, amounts written exactly as ``1234.50`` (never a
float), UTF-8 with a byte-order mark so Excel shows ``ç`` and ``ã`` instead of mojibake, one
``record`` column telling invoices from payments. XLSX: one sheet each, amounts as numeric cells
formatted ``#,##0.00`` (Excel shows them in the reader's locale), dates as date cells.

Every text cell that a spreadsheet would read as a formula (``=``, ``+``, ``-``, ``@``, tab, CR)
is prefixed with ``'``: a customer named ``=HYPERLINK(...)`` stays a name (CSV/formula injection).
"""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path
from typing import Any

from store.accounting_export import MonthExport

CSV_HEADER = ("record", "number", "customer", "tax_id", "issue_date", "due_date", "amount", "paid", "status",
              "method", "payment_date")
INVOICE_HEADER = ("Number", "Customer", "Tax id", "Issue date", "Due date", "Amount", "Paid", "Status")
PAYMENT_HEADER = ("Invoice", "Customer", "Tax id", "Payment date", "Amount", "Method")
MONEY_FORMAT = "#,##0.00"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_text(value: str | None) -> str:
    text = value or ""
    return "'" + text if text.startswith(FORMULA_START) else text


def amount_text(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.01")))


def write_csv(data: MonthExport, path: Path) -> Path:
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_HEADER)
        for i in data.invoices:
            writer.writerow(("invoice", safe_text(i.number), safe_text(i.customer), i.tax_id or "",
                             i.issue_date.isoformat(), i.due_date.isoformat(), amount_text(i.amount),
                             amount_text(i.paid), i.status, "", ""))
        for p in data.payments:
            writer.writerow(("payment", safe_text(p.invoice_number), safe_text(p.customer), p.tax_id or "",
                             "", "", amount_text(p.amount), "", "", p.method, p.paid_on.isoformat()))
    return path


def write_xlsx(data: MonthExport, path: Path) -> Path:
    from openpyxl import Workbook

    book = Workbook()
    invoices = book.active
    assert invoices is not None  # a new workbook has one sheet
    invoices.title = "Invoices"
    _sheet(invoices, INVOICE_HEADER, [
        (safe_text(i.number), safe_text(i.customer), i.tax_id or "", i.issue_date, i.due_date, i.amount,
         i.paid, i.status) for i in data.invoices], money=(5, 6))
    _sheet(book.create_sheet("Payments"), PAYMENT_HEADER, [
        (safe_text(p.invoice_number), safe_text(p.customer), p.tax_id or "", p.paid_on, p.amount, p.method)
        for p in data.payments], money=(4,))
    book.save(path)
    return path


def _sheet(sheet: Any, header: tuple[str, ...], rows: list[tuple[Any, ...]], money: tuple[int, ...]) -> None:
    sheet.append(header)
    for row in rows:
        sheet.append(row)
        for column, value in enumerate(row):
            cell = sheet.cell(row=sheet.max_row, column=column + 1)
            if column in money:
                cell.number_format = MONEY_FORMAT
            elif isinstance(value, str):
                cell.data_type = "s"  # never a formula, whatever the text
            else:
                cell.number_format = "yyyy-mm-dd"
