"""``despacho db``: run through typer as an admin would, against a configured SQLite file."""

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from commands.db import db_app
from store.migrate import head_revision

runner = CliRunner()


def root_app() -> typer.Typer:
    """The shape of the real CLI: a root callback that keeps the config path in ``ctx.obj``."""
    app = typer.Typer()

    @app.callback()
    def main(ctx: typer.Context, config: str | None = typer.Option(None, "--config")) -> None:
        ctx.obj = {"config": config}

    app.add_typer(db_app, name="db")
    return app


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(f"database:\n  url: sqlite:///{tmp_path / 'var' / 'despacho.db'}\n")
    return path


def db(config: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(root_app(), ["--config", str(config), "db", *args],
                           env={"DESPACHO_DATABASE__URL": None})
    return result.exit_code, result.output


def test_upgrade_current_downgrade_round_trip(config: Path) -> None:
    code, output = db(config, "current")
    assert code == 1 and "no such database" in output and "despacho db upgrade" in output
    assert not (config.parent / "var").exists()  # asking made no database
    code, output = db(config, "upgrade")
    assert code == 0 and f"at revision {head_revision()}" in output
    code, output = db(config, "current")
    assert code == 0 and "up to date" in output
    code, output = db(config, "downgrade", "base")
    assert code == 0 and "at revision (none)" in output


def test_history_lists_revisions(config: Path) -> None:
    code, output = db(config, "history")
    assert code == 0 and "0001 <- (base)  initial schema" in output


def test_seed_needs_demo_flag_and_a_migrated_database(config: Path) -> None:
    code, output = db(config, "seed")
    assert code == 2 and "--demo" in output
    code, output = db(config, "seed", "--demo")
    assert code == 1 and "no such database" in output and "run `despacho db upgrade`" in output
    (config.parent / "var").mkdir()
    (config.parent / "var" / "despacho.db").touch()
    code, output = db(config, "seed", "--demo")
    assert code == 1 and "run `despacho db upgrade` first" in output


def test_seed_demo_fills_an_empty_database_once(config: Path) -> None:
    db(config, "upgrade")
    code, output = db(config, "seed", "--demo", "--customers", "30", "--orders", "200",
                      "--at", "2026-12-01T12:00:00")
    assert code == 0, output
    assert "30 customers, 20 technicians, 200 service_orders" in output
    code, output = db(config, "seed", "--demo")
    assert code == 1 and "already has 30 customers" in output


def test_unknown_revision_is_a_usage_error(config: Path) -> None:
    code, output = db(config, "upgrade", "nope")
    assert code == 2 and "migration error" in output


def test_unreachable_database_says_where_to_look(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("database:\n  url: postgresql://postgres:secret@127.0.0.1:1/none\n")
    code, output = db(config, "current")
    assert code == 1 and "cannot reach the database" in output and "secret" not in output
