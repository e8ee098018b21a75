"""Hostile files given to ``despacho import``: bounded, refused with the place named, nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

from store.imports import MappingInvalid, SourceUnreadable, load_mapping, read_rows
from store.imports.sources import MAX_CELL
from tests.conftest import write


def test_a_mapping_with_yaml_aliases_is_refused_before_it_can_expand(tmp_path: Path) -> None:
    laughs = "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
    path = write(tmp_path / "m.yaml", laughs + "source: s\nid_column: id\ncolumns: {name: *b}\n")
    with pytest.raises(MappingInvalid, match="aliases"):
        load_mapping(path, "customers")


def test_an_oversized_mapping_file_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "m.yaml", "source: s\nid_column: id\n# " + "x" * 70_000 + "\n")
    with pytest.raises(MappingInvalid, match="larger than 64 KiB"):
        load_mapping(path, "customers")


@pytest.mark.parametrize("source", ["../etc", "Planilha Velha", "", "a" * 61])
def test_a_source_name_is_a_plain_short_word(tmp_path: Path, source: str) -> None:
    path = write(tmp_path / "m.yaml", f"source: '{source}'\nid_column: id\ncolumns: {{name: Nome}}\n")
    with pytest.raises(MappingInvalid, match=r"m.yaml: source: "):
        load_mapping(path, "customers")


def test_a_cell_longer_than_the_bound_is_refused_naming_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path / "c.csv", "id,Nome\n1,Ana\n2," + "A" * (MAX_CELL + 1) + "\n")
    with pytest.raises(SourceUnreadable, match=r"c.csv:3:Nome: a cell longer than"):
        read_rows(path)


def test_a_file_that_is_not_a_spreadsheet_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SourceUnreadable, match=r"not a \.csv or \.xlsx file"):
        read_rows(write(tmp_path / "clientes.json", "[]"))
    with pytest.raises(SourceUnreadable, match="not a readable XLSX workbook"):
        read_rows(write(tmp_path / "clientes.xlsx", "not a zip"))


def test_a_header_repeating_a_column_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SourceUnreadable, match=r"c.csv:1: the header repeats Nome"):
        read_rows(write(tmp_path / "c.csv", "id,Nome,Nome\n1,Ana,Bia\n"))
