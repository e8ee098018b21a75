"""A stored rule set is as hostile as a rule file: the database row decides no path and skips no limit.

A degraded start writes the newest ``accepted_rule_sets`` row back to files. Someone able to write
that row (a shared database, a restored backup) must not be able to write outside the private
folder, nor to load rules the loader's limits would refuse from disk.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

from engine.errors import RuleSetError, StoredRulesError
from engine.language.yamlsafe import MAX_FILE_BYTES
from engine.runtime.rulefiles import MAX_FILES, materialise, read_snapshot
from engine.runtime.rulestate import RuleSetHolder
from store.db import make_engine
from store.models.rulesets import AcceptedRuleSet
from tests.engine.runtime.pipeline_helpers import make_project

GOOD = "rules:\n  - id: first\n    on: a.b\n    do:\n      - log.write: {message: ok}\n"
BROKEN = "rules:\n  - id: first\n    on: a.b\n    do: []\n"
HOSTILE_CEL = "rules:\n  - id: hostile\n    on: a.b\n    if: \"1" + " + 1" * 17_500 + " > 0\"\n" \
              "    do:\n      - log.write: {message: x}\n"


@pytest.mark.parametrize("name", [
    "../evil.yaml", "rules/../../evil.yaml", "/etc/cron.d/evil", "rules//evil.yaml", "rules/./evil.yaml",
    "rules\\..\\evil.yaml", "rules/evil\x00.yaml", "evil.yaml", "rules", "other/evil.yaml", "",
])
def test_a_stored_name_that_would_leave_its_folder_is_refused_and_nothing_is_written(
        tmp_path: Path, name: str) -> None:
    folder = tmp_path / "private"
    folder.mkdir()
    with pytest.raises(StoredRulesError, match="stored file name"):
        materialise({"rules/ok.yaml": GOOD, name: "x"}, folder)
    assert not (tmp_path / "evil.yaml").exists()
    assert list(folder.rglob("*.yaml")) == []  # checked before anything is written


@pytest.mark.parametrize(("files", "expected"), [
    ([], "not a mapping"),
    ({"rules/r.yaml": 1}, "is not text"),
    ({"rules/r.yaml": "x" * (MAX_FILE_BYTES + 1)}, "over the"),
    ({f"templates/sms/{i}.txt": "x" for i in range(MAX_FILES + 1)}, "over the limit"),
    ({"rules/a": "x", "rules/a/b.yaml": GOOD}, "cannot be written back"),
])
def test_stored_files_that_are_not_text_or_over_the_limits_are_refused(tmp_path: Path, files: Any,
                                                                        expected: str) -> None:
    with pytest.raises(StoredRulesError, match=expected):
        materialise(files, tmp_path)


def test_a_written_back_set_is_private_to_its_owner(tmp_path: Path) -> None:
    rules, templates = materialise({"rules/sub/r.yaml": GOOD, "templates/sms/a.txt": "Olá"}, tmp_path)
    assert (rules / "sub" / "r.yaml").stat().st_mode & 0o777 == 0o600
    assert (rules / "sub").stat().st_mode & 0o777 == 0o700
    assert (templates / "sms" / "a.txt").read_text() == "Olá"


def store_newest(root: Path, files: dict[str, Any]) -> None:
    """A good start (which stores its set), then the stored row replaced by ``files``."""
    make_project(root, GOOD)
    db = make_engine(f"sqlite:///{root / 'despacho.db'}")
    RuleSetHolder(root / "rules", root / "templates", db=db)
    with Session(db) as session:
        row = session.exec(select(AcceptedRuleSet)).one()
        row.files = files
        session.commit()
    db.dispose()
    (root / "rules" / "r.yaml").write_text(BROKEN)


def start(root: Path) -> RuleSetHolder:
    db = make_engine(f"sqlite:///{root / 'despacho.db'}")
    return RuleSetHolder(root / "rules", root / "templates", db=db)


def test_a_hostile_stored_name_refuses_the_degraded_start_and_writes_nothing_outside(tmp_path: Path) -> None:
    store_newest(tmp_path, {"rules/r.yaml": GOOD, "rules/../../../escaped.yaml": GOOD})
    with pytest.raises(RuleSetError) as raised:
        start(tmp_path)
    assert any("does not load either" in p.message and "must be relative" in p.message
               for p in raised.value.problems)
    assert not list(tmp_path.parent.rglob("escaped.yaml"))


def test_a_stored_rule_gets_the_same_limits_as_a_file_on_disk(tmp_path: Path) -> None:
    store_newest(tmp_path, {"rules/r.yaml": HOSTILE_CEL})
    with pytest.raises(RuleSetError) as raised:
        start(tmp_path)
    assert any("does not load either" in p.message and "characters long" in p.message
               for p in raised.value.problems)


def test_a_template_symlink_leading_out_of_its_folder_is_not_stored(tmp_path: Path) -> None:
    make_project(tmp_path, GOOD)
    secret = tmp_path / "secret.txt"
    secret.write_text("db password")
    (tmp_path / "templates" / "sms" / "leak.txt").symlink_to(secret)
    snapshot = read_snapshot(tmp_path / "rules", tmp_path / "templates")
    assert "templates/sms/leak.txt" not in snapshot.files
    assert "db password" not in str(snapshot.files)
    assert snapshot.omitted == ["templates/sms/leak.txt: leads out of its folder (a symlink)"]
