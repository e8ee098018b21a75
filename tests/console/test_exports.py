"""The Excel workbook and the PDF report hold the dashboard's figures and rows."""

from __future__ import annotations

import io
from datetime import datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from console.exports import to_pdf, to_xlsx
from console.metrics import Filters, dashboard
from console.report import figures, format_value


@pytest.fixture
def board(seeded: sa.Engine, at: datetime):  # type: ignore[no-untyped-def]
    with seeded.connect() as connection:
        return dashboard(connection, Filters.last_days(30, at), at=at, sms_segment_price=Decimal("0.085"))


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_the_workbook_holds_every_figure_and_every_row(board) -> None:  # type: ignore[no-untyped-def]
    book = load_workbook(io.BytesIO(to_xlsx(board)))
    assert book.sheetnames == ["Resumo", "Por dia", "Técnicos", "Notificações"]
    summary = {row[0]: row[1] for row in book["Resumo"].iter_rows(values_only=True) if row and row[0]}
    assert summary["Ordens abertas"] == board.orders.opened
    assert summary["Faturado"] == pytest.approx(float(board.money.invoiced))
    assert summary["Cumprimento do SLA"] == pytest.approx(board.orders.sla_compliance)
    assert summary["Período"].count("/") == 4
    days = list(book["Por dia"].iter_rows(min_row=2, values_only=True))
    assert len(days) == 30 and sum(row[1] for row in days) == board.orders.opened
    people = list(book["Técnicos"].iter_rows(min_row=2, values_only=True))
    assert [row[0] for row in people] == [t.name for t in board.technicians]
    messages = list(book["Notificações"].iter_rows(min_row=2, values_only=True))
    assert sum(row[2] for row in messages) == sum(n.count for n in board.notifications)


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_the_pdf_report_has_the_figures(board) -> None:  # type: ignore[no-untyped-def]
    pdf = to_pdf(board)
    assert pdf.startswith(b"%PDF")
    text = pdf_text(pdf)
    for figure in figures(board):
        assert figure.label in text and figure.text in text
    assert board.technicians[0].name in text


def test_values_are_formatted_the_brazilian_way() -> None:
    assert format_value(1234567, "count") == "1.234.567"
    assert format_value(Decimal("1234.5"), "money") == "R$ 1.234,50"
    assert format_value(0.875, "percent") == "87,5%"
    assert format_value(12.25, "hours") == "12,2 h"
    assert format_value(None, "money") == "—"


def pdf_text(pdf: bytes) -> str:
    """The text drawn by a reportlab PDF: page streams are ASCII85 then Flate encoded, strings sit
    in ( ) with octal escapes for the accented letters (WinAnsi)."""
    import base64
    import re
    import zlib

    chunks = []
    for stream in re.findall(rb"stream\r?\n(.*?)endstream", pdf, re.S):
        data = stream.strip()
        try:
            if data.endswith(b"~>"):
                data = base64.a85decode(data[:-2].replace(b"\n", b""), adobe=False)
            data = zlib.decompress(data)
        except (ValueError, zlib.error):
            continue
        chunks.extend(re.findall(rb"\(((?:[^()\\]|\\.)*)\)\s*Tj", data, re.S))
    text = b" ".join(chunks)
    text = re.sub(rb"\\([0-7]{3})", lambda m: bytes([int(m.group(1), 8)]), text)
    text = re.sub(rb"\\(.)", rb"\1", text)
    return text.decode("cp1252")
