"""The rule set in force: a refused reload keeps it and says why; the watcher outlives any rule file;
every accepted set is stored, and a start with broken files runs the newest stored one, degraded."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from engine.errors import RuleSetError
from engine.runtime.rulestate import RuleSetHolder
from tests.engine.runtime.pipeline_helpers import make_project

GOOD = """
rules:
  - id: first
    on: a.b
    do:
      - log.write: {message: "ok"}
"""
HOSTILE_CEL = "rules:\n  - id: hostile\n    on: a.b\n    if: \"1" + " + 1" * 17_500 + " > 0\"\n" \
              "    do:\n      - log.write: {message: x}\n"


def wait_until(check: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_refused_reload_keeps_the_set_in_force_and_records_why(tmp_path: Path) -> None:
    make_project(tmp_path, GOOD)
    holder = RuleSetHolder(tmp_path / "rules", tmp_path / "templates")
    before = holder.state()
    (tmp_path / "rules" / "r.yaml").write_text(HOSTILE_CEL)
    result = holder.reload()
    assert not result.ok and "characters long" in result.problems[0]
    after = holder.state()
    assert after.ruleset is before.ruleset and after.loaded_at == before.loaded_at
    assert after.digest == before.digest  # the digest is of the files in force, not of the refused ones
    assert after.reload_error is not None
    [problem] = after.reload_error.problems
    assert (problem.file.endswith("r.yaml"), problem.line, problem.path) == (True, 4, "rules[0].if")


def test_a_good_reload_clears_the_last_error_and_changes_the_digest(tmp_path: Path) -> None:
    make_project(tmp_path, GOOD)
    holder = RuleSetHolder(tmp_path / "rules", tmp_path / "templates")
    first = holder.state().digest
    (tmp_path / "rules" / "r.yaml").write_text("rules: [{id: x, on: a.b, do: []}]\n")
    assert not holder.reload().ok
    (tmp_path / "rules" / "r.yaml").write_text(GOOD.replace("first", "second"))
    assert holder.reload().ok
    state = holder.state()
    assert list(state.ruleset.by_id) == ["second"]
    assert state.reload_error is None and state.digest != first


def test_the_watcher_survives_a_hostile_rule_and_takes_a_later_good_edit(tmp_path: Path) -> None:
    from engine.runtime.daemon import Daemon, Parts
    from engine.settings import load_settings

    config = make_project(tmp_path, GOOD)
    daemon = Daemon(load_settings(str(config), environ={}),
                    Parts(relay=False, workers=False, scheduler=False, watch_rules=True))
    daemon.start()
    try:
        (tmp_path / "rules" / "r.yaml").write_text(HOSTILE_CEL)
        wait_until(lambda: daemon.rules.state().reload_error is not None)
        assert list(daemon.rules().by_id) == ["first"]
        (tmp_path / "rules" / "r.yaml").write_text(GOOD.replace("first", "later"))
        wait_until(lambda: list(daemon.rules().by_id) == ["later"])
        assert daemon.rules.state().reload_error is None
        assert all(thread.is_alive() for thread in daemon._threads)
    finally:
        daemon.stop()


# --- the last accepted set: stored, and started with when the files on disk do not load ----------

BROKEN = "rules:\n  - id: first\n    on: a.b\n    do: []\n"


def holder_for(root: Path) -> RuleSetHolder:
    from store.db import make_engine

    db = make_engine(f"sqlite:///{root / 'despacho.db'}")
    return RuleSetHolder(root / "rules", root / "templates", db=db)


def stored_sets(holder: RuleSetHolder) -> list[Any]:
    from sqlmodel import Session, col, select

    from store.models.rulesets import AcceptedRuleSet

    assert holder.db is not None
    with Session(holder.db) as session:
        return list(session.exec(select(AcceptedRuleSet).order_by(col(AcceptedRuleSet.accepted_at))))


def test_an_accepted_set_is_stored_with_its_files_once_per_content(tmp_path: Path) -> None:
    make_project(tmp_path, GOOD)
    holder = holder_for(tmp_path)
    [row] = stored_sets(holder)
    state = holder.state()
    assert (row.digest, row.version, row.rules) == (state.digest, state.version, 1)
    assert row.files == {"rules/r.yaml": (tmp_path / "rules" / "r.yaml").read_text(),
                         "templates/sms/aviso.txt": "Ola {{ data.name }}"}
    assert holder.reload().ok and len(stored_sets(holder)) == 1  # same files: nothing new
    (tmp_path / "rules" / "r.yaml").write_text(GOOD.replace("first", "second"))
    assert holder.reload().ok
    assert [r.rules for r in stored_sets(holder)] == [1, 1] and stored_sets(holder)[-1].digest != row.digest


def test_a_refused_reload_stores_nothing(tmp_path: Path) -> None:
    make_project(tmp_path, GOOD)
    holder = holder_for(tmp_path)
    (tmp_path / "rules" / "r.yaml").write_text(BROKEN)
    assert not holder.reload().ok
    assert len(stored_sets(holder)) == 1


def test_a_start_with_broken_files_runs_the_stored_set_degraded_and_says_why(tmp_path: Path) -> None:
    make_project(tmp_path, GOOD)
    good = holder_for(tmp_path).state()
    (tmp_path / "rules" / "r.yaml").write_text(BROKEN)
    holder = holder_for(tmp_path)  # a restart, or a deploy of the broken file
    state = holder.state()
    assert list(holder().by_id) == ["first"] and holder().rules[0].file == "rules/r.yaml"
    assert state.degraded and state.stored is not None
    assert (state.version, state.digest, holder().version) == (good.version, good.digest, good.version)
    assert state.reload_error is not None
    [problem] = state.reload_error.problems
    assert (problem.file.endswith("r.yaml"), problem.line, problem.path) == (True, 4, "rules[0].do")
    # the stored templates are the ones rendered while it runs
    assert holder.templates().root == state.stored.folder / "templates"
    assert (holder.templates().root / "sms" / "aviso.txt").read_text() == "Ola {{ data.name }}"


def test_fixing_the_files_ends_the_degraded_state(tmp_path: Path) -> None:
    make_project(tmp_path, GOOD)
    holder_for(tmp_path)
    (tmp_path / "rules" / "r.yaml").write_text(BROKEN)
    holder = holder_for(tmp_path)
    assert not holder.reload().ok and holder.state().degraded  # still broken: still degraded
    (tmp_path / "rules" / "r.yaml").write_text(GOOD.replace("first", "fixed"))
    assert holder.reload().ok
    state = holder.state()
    assert not state.degraded and state.stored is None and list(holder().by_id) == ["fixed"]
    assert holder.templates().root == tmp_path / "templates"


def test_a_start_with_broken_files_and_no_stored_set_is_refused(tmp_path: Path) -> None:
    make_project(tmp_path, BROKEN)
    with pytest.raises(RuleSetError) as raised:
        holder_for(tmp_path)
    [problem] = raised.value.problems
    assert problem.path == "rules[0].do" and "needs at least 1 item" in problem.message


def test_a_stored_set_that_no_longer_loads_is_refused_naming_both(tmp_path: Path) -> None:
    from sqlmodel import Session

    make_project(tmp_path, GOOD)
    holder = holder_for(tmp_path)
    [row] = stored_sets(holder)
    assert holder.db is not None
    with Session(holder.db) as session:  # as if a newer despacho read the language more strictly
        session.get(type(row), row.id).files = {"rules/r.yaml": BROKEN.replace("first", "old")}
        session.commit()
    (tmp_path / "rules" / "r.yaml").write_text(BROKEN)
    with pytest.raises(RuleSetError) as raised:
        holder_for(tmp_path)
    messages = [p.message for p in raised.value.problems]
    assert any("needs at least 1 item" in m for m in messages)
    expected = f"the last accepted rule set ({row.version}) does not load either"
    assert any(m.startswith(expected) for m in messages)


def test_an_accepted_set_the_database_could_not_take_is_stored_later(tmp_path: Path) -> None:
    make_project(tmp_path, GOOD)
    (tmp_path / "away.db").touch()  # a database without the table: every store fails
    from store.db import make_engine

    away = make_engine(f"sqlite:///{tmp_path / 'away.db'}")
    holder = RuleSetHolder(tmp_path / "rules", tmp_path / "templates", db=away)
    assert holder.save_pending() is False
    holder.db = make_engine(f"sqlite:///{tmp_path / 'despacho.db'}")  # the database is back
    assert holder.save_pending() is True
    assert [row.digest for row in stored_sets(holder)] == [holder.state().digest]


# --- the version: the git commit when the files are what it holds, else a content hash -----------

def git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True,
                   env={"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
                        "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com",
                        "HOME": str(root), "PATH": os.environ["PATH"]})


def test_the_version_is_the_commit_while_the_files_are_clean_and_a_hash_once_they_change(
        tmp_path: Path) -> None:
    make_project(tmp_path, GOOD)
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", "rules", "templates")
    git(tmp_path, "commit", "-q", "-m", "rules")
    head = subprocess.run(["git", "-C", str(tmp_path), "rev-parse", "HEAD"], capture_output=True, text=True,
                          check=True).stdout.strip()
    holder = RuleSetHolder(tmp_path / "rules", tmp_path / "templates")
    assert holder.state().version == head == holder().version
    (tmp_path / "templates" / "sms" / "novo.txt").write_text("Novo")  # untracked: not what HEAD holds
    assert holder.reload().ok
    state = holder.state()
    assert state.version == f"sha256:{state.digest[:16]}" == holder().version


def test_outside_git_the_version_is_the_content_hash(tmp_path: Path) -> None:
    make_project(tmp_path, GOOD)
    holder = RuleSetHolder(tmp_path / "rules", tmp_path / "templates")
    state = holder.state()
    assert state.version == f"sha256:{state.digest[:16]}"
    other = tmp_path / "elsewhere"
    make_project(other, GOOD)  # the same files in another folder: the same version
    assert RuleSetHolder(other / "rules", other / "templates").state().version == state.version


def test_every_run_records_the_version_of_the_set_it_ran_under(tmp_path: Path) -> None:
    from sqlmodel import Session, select

    from store.models.runs import RuleRun
    from tests.engine.runtime.pipeline_helpers import make_driver

    driver = make_driver(make_project(tmp_path, GOOD))
    driver.emit("a.b", "e1")
    driver.drain()
    first = driver.core.rules.state().version
    (tmp_path / "rules" / "r.yaml").write_text(GOOD + "        id: changed\n")
    assert driver.core.rules.reload().ok
    driver.emit("a.b", "e2")
    driver.drain()
    with Session(driver.core.db) as session:
        versions = {run.event_id: run.ruleset_version for run in session.exec(select(RuleRun))}
    assert first.startswith("sha256:")
    assert versions == {"e1": first, "e2": driver.core.rules.state().version}
    assert versions["e1"] != versions["e2"]


def test_on_postgresql_a_restart_with_broken_files_runs_the_stored_set(tmp_path: Path) -> None:
    from store.db import make_engine
    from store.migrate import upgrade
    from tests.support.postgres import throwaway_pg_database

    make_project(tmp_path, GOOD)
    with throwaway_pg_database() as url:
        upgrade(url)
        db = make_engine(url)
        try:
            good = RuleSetHolder(tmp_path / "rules", tmp_path / "templates", db=db).state()
            (tmp_path / "rules" / "r.yaml").write_text(BROKEN)
            holder = RuleSetHolder(tmp_path / "rules", tmp_path / "templates", db=db)
            assert holder.state().degraded and holder.state().version == good.version
            assert list(holder().by_id) == ["first"]
        finally:
            db.dispose()


def test_broken_files_and_a_database_that_cannot_answer_refuse_the_start_saying_both(tmp_path: Path) -> None:
    from store.db import make_engine

    make_project(tmp_path, BROKEN)
    (tmp_path / "unmigrated.db").touch()
    with pytest.raises(RuleSetError) as raised:
        RuleSetHolder(tmp_path / "rules", tmp_path / "templates",
                      db=make_engine(f"sqlite:///{tmp_path / 'unmigrated.db'}"))
    messages = [p.message for p in raised.value.problems]
    assert any("needs at least 1 item" in m for m in messages)
    assert "the last accepted rule set cannot be read: no such table: accepted_rule_sets" in messages
