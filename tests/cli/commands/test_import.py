"""``despacho import``: the report an admin reads, the problems located, the exit codes.

(``--no-backup`` here: the backup taken first is tests/cli/commands/test_backup.py's.)"""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from cli import app
from tests.conftest import write

runner = CliRunner()
IMPORT = ("import", "--no-backup")
CUSTOMERS = """\
Código;Nome;Celular;CPF/CNPJ
C-1;Maria Souza;(11) 98765-4321;529.982.247-25
C-2;João Lima;(11) 98765-4321;
"""
MAPPING = "source: planilha\nid_column: Código\ncolumns: {name: Nome, phone: Celular, tax_id: CPF/CNPJ}\n"


def setup(project: Path, db_url: str) -> tuple[Path, Path]:
    write(project / "config.yaml", f"database: {{url: '{db_url}'}}\n")
    return write(project / "clientes.csv", CUSTOMERS), write(project / "clientes.yaml", MAPPING)


def test_import_reports_new_rows_table_counts_and_possible_duplicates(project: Path, db_url: str) -> None:
    data, mapping = setup(project, db_url)
    result = runner.invoke(app, [*IMPORT, "customers", str(data), "--mapping", str(mapping)])

    assert result.exit_code == 0, result.output
    assert "imported 2 customers row(s) from 'planilha': 2 new, 0 updated, 0 unchanged" in result.output
    assert "customers 2" in result.output
    assert "possible duplicate (customers by phone): +5511987654321 on 2 customers" in result.output


def test_a_dry_run_says_what_it_would_do_and_a_later_import_still_creates(project: Path, db_url: str) -> None:
    data, mapping = setup(project, db_url)
    dry = runner.invoke(app, [*IMPORT, "customers", str(data), "-m", str(mapping), "--dry-run",
                              "--format", "json"])
    real = runner.invoke(app, [*IMPORT, "customers", str(data), "-m", str(mapping), "--format", "json"])

    assert json.loads(dry.output)["import"]["created"] == 2 and json.loads(dry.output)["import"]["dry_run"]
    assert json.loads(real.output)["import"]["created"] == 2


def test_bad_rows_exit_1_listing_file_line_and_column(project: Path, db_url: str) -> None:
    data, mapping = setup(project, db_url)
    data.write_text(CUSTOMERS + "C-3;Zé;123;\n", encoding="utf-8")
    result = runner.invoke(app, [*IMPORT, "customers", str(data), "--mapping", str(mapping)])

    assert result.exit_code == 1
    assert f"{data}:4:Celular: " in result.output
    assert "1 problem(s): nothing was imported" in result.output
    again = runner.invoke(app, [*IMPORT, "customers", str(data), "-m", str(mapping), "--format", "json"])
    assert json.loads(again.output)["problems"][0] | {"message": ""} == {
        "file": str(data), "line": 4, "column": "Celular", "message": ""}


def test_an_unusable_mapping_or_kind_is_a_usage_error(project: Path, db_url: str) -> None:
    data, mapping = setup(project, db_url)
    mapping.write_text("source: Planilha Velha\nid_column: Código\n", encoding="utf-8")
    bad_mapping = runner.invoke(app, [*IMPORT, "customers", str(data), "--mapping", str(mapping)])
    bad_kind = runner.invoke(app, [*IMPORT, "fornecedores", str(data), "--mapping", str(mapping)])

    assert bad_mapping.exit_code == 2 and f"{mapping}: source: " in bad_mapping.output
    assert bad_kind.exit_code == 2 and "KIND must be one of customers" in bad_kind.output
