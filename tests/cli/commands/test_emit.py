"""``despacho emit``: the API's limits (size, depth, NaN, NUL), and a hint that tells down from unmigrated."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli import app
from engine.language.events import read_events

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


# --- emit --file: replaying the files dry-run reads -----------------------------------------------

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "events.yaml"


def stored_ids(project: Path) -> list[str]:
    import sqlite3

    with sqlite3.connect(project / "var/despacho.db") as db:
        return [row[0] for row in db.execute("SELECT id FROM events ORDER BY id")]


def test_every_event_of_the_examples_file_is_stored_with_a_line_each(migrated: Path) -> None:
    result = runner.invoke(app, ["emit", "--file", str(EXAMPLES)])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[0] == "evt-20261201-0001 service_order.assigned stored"
    count = len(read_events(str(EXAMPLES)))
    assert lines[-1] == f"{count} of {count} events stored"
    assert len(stored_ids(migrated)) == count


def test_replaying_the_same_file_again_stores_nothing_and_says_so(migrated: Path) -> None:
    runner.invoke(app, ["emit", "--file", str(EXAMPLES)])
    result = runner.invoke(app, ["emit", "--file", str(EXAMPLES)])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[0] == "evt-20261201-0001 service_order.assigned already stored (same id): nothing changed"
    assert lines[-1] == f"0 of {len(read_events(str(EXAMPLES)))} events stored"


def test_the_same_id_twice_in_a_file_is_stored_once(migrated: Path) -> None:
    (migrated / "twice.yaml").write_text("- {type: a.b, id: x1}\n- {type: a.c, id: x1}\n")
    result = runner.invoke(app, ["emit", "--file", "twice.yaml"])
    assert result.output.strip().splitlines() == [
        "x1 a.b stored", "x1 a.c same id as an earlier event in this file: not stored",
        "1 of 2 events stored"]


def test_one_invalid_event_stores_none_and_names_its_line(migrated: Path) -> None:
    (migrated / "bad.yaml").write_text("- {type: a.b, id: ok1}\n- {type: Not A Type, id: bad}\n"
                                       "- {type: a.b, id: ok2, data: [1]}\n")
    result = runner.invoke(app, ["emit", "--file", "bad.yaml"])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert lines[0].startswith("bad.yaml:2:") and "[1].type" in lines[0]
    assert lines[1].startswith("bad.yaml:3:") and "[2].data" in lines[1]
    assert lines[-1] == "invalid events: 2 problems in 1 file; nothing was stored"
    assert stored_ids(migrated) == []


def test_a_file_with_no_events_is_refused(migrated: Path) -> None:
    (migrated / "empty.yaml").write_text("[]\n")
    result = runner.invoke(app, ["emit", "--file", "empty.yaml"])
    assert result.exit_code == 1
    assert result.output.strip() == "empty.yaml: no events in the file; nothing was stored"


@pytest.mark.parametrize("extra", [["a.b"], ["--id", "x"], ["--data", '{"a": 1}'], ["--source", "erp"]])
def test_file_with_a_type_id_data_or_source_is_a_usage_error(migrated: Path, extra: list[str]) -> None:
    result = runner.invoke(app, ["emit", *extra, "--file", str(EXAMPLES)])
    assert result.exit_code == 2
    assert "--file takes the type, id, source and data of each event from the file" in result.output
    assert stored_ids(migrated) == []


def test_neither_a_type_nor_a_file_is_a_usage_error(migrated: Path) -> None:
    result = runner.invoke(app, ["emit"])
    assert result.exit_code == 2
    assert "give the event TYPE" in result.output


def test_a_missing_file_is_refused_naming_it(migrated: Path) -> None:
    result = runner.invoke(app, ["emit", "--file", "nope.yaml"])
    assert result.exit_code == 1
    assert "nope.yaml" in result.output and "nothing was stored" in result.output


def test_an_event_larger_than_the_api_takes_stores_none_of_the_file(migrated: Path) -> None:
    (migrated / "config.yaml").write_text("api: {max_body_bytes: 2048}\n")
    (migrated / "big.yaml").write_text('- {type: a.b, id: small}\n- {type: a.b, id: big, data: {x: "'
                                       + "y" * 3000 + '"}}\n')
    result = runner.invoke(app, ["emit", "--file", "big.yaml"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "big.yaml: [1] (id big): data is 3009 bytes; at most 2048 are accepted",
        "invalid events: 1 too large; nothing was stored"]
    assert stored_ids(migrated) == []
