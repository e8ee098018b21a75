"""``despacho flags set|list|delete``: what an admin types and reads; bad flags are usage errors."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from cli import app
from tests.conftest import write

runner = CliRunner()


def configured(project: Path, db_url: str) -> None:
    write(project / "config.yaml", f"database: {{url: '{db_url}'}}\n")


def test_flags_are_set_listed_and_removed(project: Path, db_url: str) -> None:
    configured(project, db_url)
    shadow = runner.invoke(app, ["flags", "set", "connector:whatsapp", "shadow", "--actor", "ana"])
    rollout = runner.invoke(app, ["flags", "set", "rule:promo", "percent", "--percent", "10",
                                  "--subject-key", "data.customer.id", "--actor", "ana"])
    listed = runner.invoke(app, ["flags", "list", "--format", "json"])
    removed = runner.invoke(app, ["flags", "delete", "connector:whatsapp"])
    after = runner.invoke(app, ["flags", "list"])

    assert shadow.exit_code == 0 and "connector:whatsapp: shadow" in shadow.output
    assert "rule:promo: on for 10% of data.customer.id" in rollout.output
    flags = {f["key"]: f for f in json.loads(listed.output)["flags"]}
    assert flags["rule:promo"]["updated_by"] == "user:ana" and flags["connector:whatsapp"]["mode"] == "shadow"
    assert removed.exit_code == 0 and "connector:whatsapp" not in after.output


def test_a_bad_flag_is_a_usage_error_naming_the_field(project: Path, db_url: str) -> None:
    configured(project, db_url)
    key = runner.invoke(app, ["flags", "set", "rules/promo", "off"])
    subjects = runner.invoke(app, ["flags", "set", "rule:promo", "subjects", "--subject", "c1"])
    missing = runner.invoke(app, ["flags", "delete", "rule:nada"])

    assert key.exit_code == 2 and "feature_flag.key" in key.output
    assert subjects.exit_code == 2 and "feature_flag.subject_key" in subjects.output
    assert missing.exit_code == 2 and "feature flag 'rule:nada' not found" in missing.output
