"""``despacho emit``: the API's limits (size, depth, NaN, NUL), and a hint that tells down from unmigrated."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli import app

runner = CliRunner()


@pytest.fixture
def migrated(project: Path, migrated_template: Path) -> Path:
    (project / "var").mkdir()
    shutil.copy(migrated_template, project / "var/despacho.db")
    return project


def test_an_event_is_stored(migrated: Path) -> None:
    result = runner.invoke(app, ["emit", "invoice.paid", "--id", "e1", "--data", '{"amount": 10.5}'])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "e1 stored"


def test_deeply_nested_json_is_refused_without_a_recursion_error(migrated: Path) -> None:
    (migrated / "deep.json").write_text('{"x": ' + "[" * 100_000 + "]" * 100_000 + "}")
    result = runner.invoke(app, ["emit", "a.b", "--data", "@deep.json"])
    assert result.exit_code == 2
    assert result.output.strip() == "invalid event: deep.json: data: nested deeper than 64 levels"


def test_a_payload_larger_than_the_api_takes_is_refused(migrated: Path) -> None:
    (migrated / "big.json").write_text('{"x": "' + "y" * 5_000_000 + '"}')
    result = runner.invoke(app, ["emit", "a.b", "--data", "@big.json"])
    assert result.exit_code == 2
    assert result.output.strip() == "invalid event: big.json: 5000009 bytes; at most 1048576 are accepted"


@pytest.mark.parametrize(("data", "expected"), [
    ('{"amount": NaN}', "--data: data.amount: NaN is not a JSON number; send a number, null or a string"),
    ('{"note": "a\\u0000b"}',
     "--data: data.note: text with a NUL character (\\u0000), which cannot be stored"),
    ("[1]", "--data: data: must be a JSON object"),
])
def test_values_the_api_refuses_are_refused_naming_the_field(migrated: Path, data: str,
                                                             expected: str) -> None:
    result = runner.invoke(app, ["emit", "a.b", "--data", data])
    assert result.exit_code == 2
    assert result.output.strip() == f"invalid event: {expected}"


def test_an_unmigrated_database_suggests_migrating(project: Path) -> None:
    (project / "var").mkdir()
    (project / "var/despacho.db").touch()  # an empty file, as SQLite leaves behind
    result = runner.invoke(app, ["emit", "a.b"])
    assert result.exit_code == 1
    assert "no such table: events (is the database migrated? run 'despacho db upgrade')" in result.output


def test_an_unreachable_database_says_so_not_that_it_needs_migrating(project: Path) -> None:
    (project / "config.yaml").write_text("database:\n  url: postgresql://postgres:secret@127.0.0.1:1/none\n")
    result = runner.invoke(app, ["--config", "config.yaml", "emit", "a.b"])
    assert result.exit_code == 1
    assert result.output.startswith("cannot store the event: the database is unreachable (")
    assert "check database.url" in result.output
    assert "migrated" not in result.output and "secret" not in result.output
