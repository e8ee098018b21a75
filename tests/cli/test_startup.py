"""What a command imports before it runs: `--help` and `validate` stay clear of the servers' libraries.

Each case runs in a fresh interpreter (this one has imported everything already) and lists the
heavy modules it finds in ``sys.modules``; no wall-clock time is asserted (bench/bench_cli.py
measures that).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# the API server, the broker, the ORM, the HTTP clients, migrations, structured logging
SERVER_SIDE = ("fastapi", "starlette", "uvicorn", "dramatiq", "redis", "sqlalchemy", "sqlmodel", "alembic",
               "twilio", "requests", "httpx", "httpcore", "structlog", "limits", "store.models")

PROBE = """
import json, sys
import cli
args = json.loads(sys.argv[1])
code = cli.app(args, prog_name="despacho", standalone_mode=False) if args else 0
heavy = json.loads(sys.argv[2])
print(json.dumps({"code": code, "loaded": sorted(name for name in heavy if name in sys.modules)}))
"""


def loaded_after(*args: str) -> list[str]:
    """The heavy modules loaded by running ``despacho ARGS`` (which must exit 0)."""
    done = subprocess.run([sys.executable, "-c", PROBE, json.dumps(list(args)), json.dumps(SERVER_SIDE)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={"PATH": "/usr/bin:/bin", "DESPACHO_CONFIG": str(ROOT / "config.example.yaml")})
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.splitlines()[-1])
    assert found["code"] in (0, None), done.stdout
    return found["loaded"]


@pytest.mark.parametrize("args", [(), ("--help",), ("db", "--help"), ("validate", "--help")],
                         ids=["import", "help", "db-help", "validate-help"])
def test_importing_the_cli_and_asking_for_help_loads_no_server_library(args: tuple[str, ...]) -> None:
    assert loaded_after(*args) == []


def test_validate_loads_the_rule_language_without_the_connectors_transports_or_the_orm() -> None:
    assert loaded_after("validate", "rules") == []


def command_names(argv: list[str]) -> list[str]:
    import typer.main

    import cli

    group = typer.main.get_command(cli.app_for(argv))
    return sorted(group.commands)  # type: ignore[attr-defined]


@pytest.mark.parametrize("argv", [["validate", "rules"], ["--config", "x.yaml", "validate"],
                                  ["--config=x.yaml", "validate", "--strict"]])
def test_a_named_command_is_the_only_one_typer_builds(argv: list[str]) -> None:
    assert command_names(argv) == ["validate"]


def test_a_named_group_is_built_with_its_subcommands() -> None:
    import typer.main

    import cli

    group = typer.main.get_command(cli.app_for(["db", "upgrade"]))
    assert sorted(group.commands) == ["db"]  # type: ignore[attr-defined]
    assert "upgrade" in group.commands["db"].commands  # type: ignore[attr-defined]


@pytest.mark.parametrize("argv", [[], ["--help"], ["no-such-command"], ["--config", "validate"]])
def test_help_an_unknown_name_or_no_command_get_the_whole_app(argv: list[str]) -> None:
    import cli

    assert cli.app_for(argv) is cli.app


def test_an_unknown_command_is_still_reported_with_the_usual_error() -> None:
    done = subprocess.run([str(Path(sys.executable).parent / "despacho"), "no-such-command"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "No such command 'no-such-command'" in done.stderr
