"""``despacho status`` says whether the rules run as written, degraded (the last accepted set) or not."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from cli import app
from engine.runtime.compose import build_core
from engine.settings import load_settings
from tests.engine.runtime.pipeline_helpers import make_project

runner = CliRunner()
GOOD = "rules:\n  - id: first\n    on: a.b\n    do:\n      - log.write: {message: ok}\n"
BROKEN = "rules:\n  - id: first\n    on: a.b\n    do: []\n"


def status(config: Path) -> tuple[int, str]:
    result = runner.invoke(app, ["--config", str(config), "status"], env={"DESPACHO_DATABASE__URL": None})
    return result.exit_code, result.output


def test_status_shows_the_version_of_rules_that_load(tmp_path: Path) -> None:
    code, output = status(make_project(tmp_path, GOOD))
    assert code == 0, output
    core = build_core(load_settings(str(tmp_path / "config.yaml"), environ={}), sender=lambda *_: None)
    version = core.rules.state().version
    core.close()
    assert f"rules: ok, version {version} (1 rules)" in output


def test_status_is_degraded_when_the_files_do_not_load_and_a_set_was_accepted(tmp_path: Path) -> None:
    config = make_project(tmp_path, GOOD)
    core = build_core(load_settings(str(config), environ={}), sender=lambda *_: None)  # stores the set
    version = core.rules.state().version
    core.close()
    (tmp_path / "rules" / "r.yaml").write_text(BROKEN)
    code, output = status(config)
    assert code == 0, output
    assert "rules: DEGRADED: the rule files do not load (1 problems); daemons run the last accepted " \
           f"set, version {version} (accepted " in output
    assert f"{tmp_path / 'rules' / 'r.yaml'}:4:9: rules[0].do: needs at least 1 item(s)" in output


def test_status_says_daemons_will_not_start_when_no_set_was_ever_accepted(tmp_path: Path) -> None:
    code, output = status(make_project(tmp_path, BROKEN))
    assert code == 0, output
    assert "rules: REFUSED: the rule files do not load (1 problems) and no rule set was ever " \
           "accepted: daemons will not start" in output
