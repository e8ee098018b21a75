"""Reading the company's spreadsheet: a CSV (comma or semicolon, UTF-8 or Latin-1) or an XLSX's first sheet.

Every row is a dict of header -> cell, with its line number as the spreadsheet shows
it (the header is line 1). Sizes are bounded: an export of a whole ERP is split, not
loaded into memory at once.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from store.imports.errors import SourceUnreadable

MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_ROWS = 200_000
MAX_COLUMNS = 200
MAX_CELL = 10_000


@dataclass(frozen=True)
class SourceRow:
    line: int
    cells: dict[str, Any]


def read_rows(path: Path) -> list[SourceRow]:
    """The rows of ``path`` (``.csv`` or ``.xlsx``), with their headers checked."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise SourceUnreadable(f"{path}: cannot read ({exc.strerror})") from exc
    if size > MAX_FILE_BYTES:
        raise SourceUnreadable(f"{path}: larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB: split it")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        table = _csv(path)
    elif suffix == ".xlsx":
        table = _xlsx(path)
    else:
        raise SourceUnreadable(f"{path}: not a .csv or .xlsx file")
    return _rows(path, table)


def _csv(path: Path) -> Iterator[list[Any]]:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("cp1252", errors="replace")  # Excel's "CSV" on Windows in Brazil
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    csv.field_size_limit(MAX_CELL + 1)
    try:
        yield from csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    except csv.Error as exc:
        raise SourceUnreadable(f"{path}: not a readable CSV ({exc})") from exc


def _xlsx(path: Path) -> Iterator[list[Any]]:
    from zipfile import BadZipFile

    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (BadZipFile, OSError, KeyError, ValueError) as exc:
        raise SourceUnreadable(f"{path}: not a readable XLSX workbook ({exc})") from exc
    try:
        sheet = workbook.worksheets[0]
        for values in sheet.iter_rows(values_only=True):
            yield list(values)
    finally:
        workbook.close()


def _rows(path: Path, table: Iterator[list[Any]]) -> list[SourceRow]:
    header = next(table, None)
    if not header or all(_blank(cell) for cell in header):
        raise SourceUnreadable(f"{path}: the first line must hold the column headers")
    names = [str(cell).strip() if cell is not None else "" for cell in header]
    if len(names) > MAX_COLUMNS:
        raise SourceUnreadable(f"{path}: more than {MAX_COLUMNS} columns")
    repeated = sorted({name for name in names if name and names.count(name) > 1})
    if repeated:
        raise SourceUnreadable(f"{path}:1: the header repeats {', '.join(repeated)}")
    rows: list[SourceRow] = []
    for line, values in enumerate(table, start=2):
        if all(_blank(cell) for cell in values):
            continue
        if len(rows) >= MAX_ROWS:
            raise SourceUnreadable(f"{path}: more than {MAX_ROWS} rows: split it")
        cells: dict[str, Any] = {}
        for column, value in zip(names, values, strict=False):
            if isinstance(value, str) and len(value) > MAX_CELL:
                raise SourceUnreadable(f"{path}:{line}:{column}: a cell longer than {MAX_CELL} characters")
            if column:
                cells[column] = value
        rows.append(SourceRow(line, cells))
    return rows


def _blank(cell: Any) -> bool:
    return cell is None or (isinstance(cell, str) and not cell.strip())
