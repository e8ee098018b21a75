"""The dashboard as an Excel workbook (openpyxl) and a PDF report (reportlab).

Both take the ``Dashboard`` the page shows and the rows of ``console.report``,
so a figure reads the same everywhere. The workbook keeps numbers as numbers
(with a pt-BR display format) so they can be summed again; the PDF prints the
formatted text. Text from the database (technician names, regions) is written
as data: every text cell is typed as a string, so ``=HYPERLINK(...)`` stays text and never
becomes a formula,
and the PDF escapes it before reportlab's mini-markup reads it.
"""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any
from xml.sax.saxutils import escape

from console.metrics import Dashboard
from console.report import Table, figures, filter_lines, tables

SHEETS = {"daily": "Por dia", "technicians": "Técnicos", "notifications": "Notificações"}
NUMBER_FORMATS = {"count": "#,##0", "hours": "#,##0.0", "percent": "0.0%",
                  "money": '"R$" #,##0.00', "date": "DD/MM/YYYY"}


def to_xlsx(board: Dashboard, names: dict[str, str] | None = None) -> bytes:
    """One sheet with the figures and the filters, then one sheet per table."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    sheet.title = "Resumo"
    sheet.append(["Painel despacho"])
    sheet["A1"].font = Font(bold=True, size=14)
    for label, value in filter_lines(board, names):
        _append(sheet, [label, value])
    sheet.append([])
    sheet.append(["Indicador", "Valor", "O que é"])
    for cell in sheet[sheet.max_row]:
        cell.font = Font(bold=True)
    for figure in figures(board):
        _append(sheet, [figure.label, _cell_value(figure.value), figure.help])
        sheet.cell(sheet.max_row, 2).number_format = NUMBER_FORMATS[figure.kind]
    sheet.column_dimensions["A"].width = 24
    sheet.column_dimensions["B"].width = 18
    sheet.column_dimensions["C"].width = 90
    for table in tables(board):
        _table_sheet(book.create_sheet(_sheet_title(table)), table)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def to_pdf(board: Dashboard, names: dict[str, str] | None = None) -> bytes:
    """An A4 report: the filters, the figures, then each table."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import cm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer
    from reportlab.platypus import Table as PdfTable

    styles = getSampleStyleSheet()
    small = styles["BodyText"].clone("small", fontSize=8, leading=10)
    grid = [("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef5")),
            ("FONTSIZE", (0, 0), (-1, -1), 8), ("VALIGN", (0, 0), (-1, -1), "TOP")]
    out = io.BytesIO()
    doc = SimpleDocTemplate(out, pagesize=A4, title="Painel despacho", author="despacho",
                            leftMargin=1.5 * cm, rightMargin=1.5 * cm, topMargin=1.5 * cm,
                            bottomMargin=1.5 * cm)
    story: list[Any] = [Paragraph("Painel despacho", styles["Title"])]
    for label, value in filter_lines(board, names):
        story.append(Paragraph(f"<b>{escape(label)}:</b> {escape(value)}", styles["BodyText"]))
    story.append(Spacer(1, 0.4 * cm))
    summary = [["Indicador", "Valor", "O que é"]] + [
        [figure.label, figure.text, Paragraph(escape(figure.help), small)] for figure in figures(board)]
    story.append(PdfTable(summary, colWidths=[4.5 * cm, 3.5 * cm, 10 * cm], style=grid, repeatRows=1))
    for table in tables(board):
        story.append(Spacer(1, 0.5 * cm))
        story.append(Paragraph(escape(table.title), styles["Heading3"]))
        if not table.rows:
            story.append(Paragraph("Sem dados no período.", styles["BodyText"]))
            continue
        rows = [[Paragraph(escape(text), small) for text in row] for row in table.text_rows()]
        story.append(PdfTable([table.columns, *rows], style=grid, repeatRows=1))
    doc.build(story)
    return out.getvalue()


def _table_sheet(sheet: Any, table: Table) -> None:
    from openpyxl.styles import Font

    sheet.append(table.columns)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in table.rows:
        _append(sheet, [_cell_value(value) for value in row])
        for column, kind in enumerate(table.kinds, start=1):
            if kind in NUMBER_FORMATS:
                sheet.cell(sheet.max_row, column).number_format = NUMBER_FORMATS[kind]
    for column, _ in enumerate(table.columns):
        sheet.column_dimensions[chr(ord("A") + column)].width = 20


def _sheet_title(table: Table) -> str:
    return SHEETS.get(table.key, table.title)[:31]  # Excel's limit


def _append(sheet: Any, values: list[Any]) -> None:
    """Append a row; text stays text (openpyxl would store ``=...`` as a formula)."""
    sheet.append(values)
    for cell in sheet[sheet.max_row]:
        if isinstance(cell.value, str):
            cell.data_type = "s"


def _cell_value(value: Any) -> Any:
    return float(value) if isinstance(value, Decimal) else value
