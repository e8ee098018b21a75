"""`despacho plan`: stored events replayed against the rules of a git ref and of the working tree."""

from __future__ import annotations

import json
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from cli import app
from engine.language.events import parse_events
from store.db import make_engine, session_scope
from store.eventlog import event_row, insert_events
from store.types import utcnow
from tests.conftest import write

runner = CliRunner()
EXAMPLES = Path(__file__).resolve().parents[3] / "examples/events.yaml"
EXAMPLE_COUNT = len(parse_events(EXAMPLES.read_text(encoding="utf-8"), str(EXAMPLES)))

RULES_V1 = """
rules:
  - id: assigned-sms
    on: service_order.assigned
    if: data.customer.phone != null
    do:
      - sms.send: {to: "{{ data.customer.phone }}", body: "Tecnico {{ data.technician.name }} a caminho"}
  - id: completed-log
    on: service_order.completed
    do:
      - log.write: {message: "OS {{ data.order.id }} concluida"}
"""


def git(project: Path, *args: str) -> str:
    done = subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
                          cwd=project, capture_output=True, text=True, check=True)
    return done.stdout.strip()


@pytest.fixture
def repo(project: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A git repository with one commit of RULES_V1, and the example events stored an hour ago."""
    write(project / "rules/r.yaml", RULES_V1)
    (project / ".gitignore").write_text("*.db\n")
    git(project, "init", "-q", "-b", "main")
    git(project, "add", ".")
    git(project, "commit", "-q", "-m", "v1")
    monkeypatch.setenv("DESPACHO_DATABASE__URL", db_url)
    store_events(db_url, timedelta(hours=1))
    return project


def store_events(url: str, ago: timedelta, prefix: str = "") -> int:
    events = parse_events(EXAMPLES.read_text(encoding="utf-8"), str(EXAMPLES))
    rows = [event_row(prefix + e.id, e.type, e.data, occurred_at=utcnow() - ago, source=e.source)
            for e in events]
    engine = make_engine(url)
    with session_scope(engine) as session:
        insert_events(session, rows)
    engine.dispose()
    return len(rows)


def plan_json(*args: str) -> tuple[int, dict]:
    result = runner.invoke(app, ["plan", "--format", "json", *args])
    return result.exit_code, json.loads(result.output) if result.exit_code in (0, 1) else {}


def test_unchanged_rules_exit_0_and_say_so(repo: Path) -> None:
    result = runner.invoke(app, ["plan"])
    assert result.exit_code == 0, result.output
    assert "no change: every rule would do the same" in result.output
    assert f"{EXAMPLE_COUNT} events of the last 7 days" in result.output


def test_changed_param_is_reported_per_rule_with_the_diff_and_exits_1(repo: Path) -> None:
    write(repo / "rules/r.yaml", RULES_V1.replace("a caminho", "chega hoje"))
    code, report = plan_json()
    assert code == 1
    assert report["changed"] is True and report["events"] == EXAMPLE_COUNT
    (rule,) = report["rules"]
    assert (rule["rule_id"], rule["changed"], rule["added"], rule["removed"]) == ("assigned-sms", 1, 0, 0)
    (example,) = rule["examples"]["changed"]
    assert example["event_id"] == "evt-20261201-0001" and example["action"] == "sms.send"
    before, after = "Tecnico João Pereira a caminho", "Tecnico João Pereira chega hoje"
    assert example["diff"] == {"params.body": {"before": before, "after": after},
                               "preview.text": {"before": before, "after": after},
                               "preview.length": {"before": 30, "after": 31}}


def test_added_and_removed_actions_are_counted_per_rule(repo: Path) -> None:
    write(repo / "rules/r.yaml", RULES_V1.replace(
        "      - log.write: {message: \"OS {{ data.order.id }} concluida\"}\n",
        "      - log.write: {message: \"OS {{ data.order.id }} concluida\"}\n"
        "      - log.write: {message: \"de novo\"}\n").replace("- id: assigned-sms", "- id: assigned-sms-v2"))
    code, report = plan_json()
    assert code == 1
    counts = {r["rule_id"]: (r["added"], r["removed"], r["changed"]) for r in report["rules"]}
    assert counts == {"assigned-sms": (0, 1, 0), "assigned-sms-v2": (1, 0, 0), "completed-log": (1, 0, 0)}
    added = report["rules"][2]["examples"]["added"][0]
    assert added["key"] == "do[1]" and added["after"]["params"] == {"message": "de novo"}


def test_template_change_alone_shows_in_the_rendered_message(repo: Path) -> None:
    write(repo / "rules/r.yaml", RULES_V1.replace(
        'body: "Tecnico {{ data.technician.name }} a caminho"', "template: lembrete"))
    git(repo, "commit", "-q", "-am", "template")
    write(repo / "templates/sms/lembrete.txt", "Oi {{ data.customer.name }}, visita amanha.")
    code, report = plan_json()
    assert code == 1
    (example,) = report["rules"][0]["examples"]["changed"]
    assert example["diff"]["preview.text"] == {"before": "Ola Maria Oliveira, visita amanha.",
                                               "after": "Oi Maria Oliveira, visita amanha."}
    assert "params" not in str(example["diff"].keys())


def test_text_output_shows_counts_and_the_changed_field(repo: Path) -> None:
    write(repo / "rules/r.yaml", RULES_V1.replace("a caminho", "chega hoje"))
    result = runner.invoke(app, ["plan"])
    assert result.exit_code == 1
    assert "rule assigned-sms: 0 added, 0 removed, 1 changed" in result.output
    assert ('params.body: "Tecnico João Pereira a caminho" -> "Tecnico João Pereira chega hoje"'
            in result.output)
    assert "1 rule change: 0 added, 0 removed, 1 changed" in result.output


def test_examples_are_capped_per_kind_but_counts_are_not(repo: Path, db_url: str) -> None:
    for batch in range(4):
        store_events(db_url, timedelta(hours=2), prefix=f"b{batch}-")
    write(repo / "rules/r.yaml", RULES_V1.replace("a caminho", "chega hoje"))
    code, report = plan_json("--examples", "2")
    (rule,) = report["rules"]
    assert code == 1 and rule["changed"] == 5 and len(rule["examples"]["changed"]) == 2


def test_events_older_than_the_window_are_not_replayed(repo: Path, db_url: str) -> None:
    store_events(db_url, timedelta(days=3), prefix="old-")
    write(repo / "rules/r.yaml", RULES_V1.replace("a caminho", "chega hoje"))
    assert plan_json("--days", "2")[1]["rules"][0]["changed"] == 1
    assert plan_json("--days", "4")[1]["rules"][0]["changed"] == 2


def test_base_is_any_ref(repo: Path) -> None:
    write(repo / "rules/r.yaml", RULES_V1.replace("a caminho", "chega hoje"))
    git(repo, "commit", "-q", "-am", "v2")
    assert runner.invoke(app, ["plan"]).exit_code == 0
    code, report = plan_json("--ref", "HEAD~1")
    assert code == 1 and report["commit"] == git(repo, "rev-parse", "HEAD~1")


def test_unknown_ref_exits_2_naming_it(repo: Path) -> None:
    result = runner.invoke(app, ["plan", "--ref", "no-such-branch"])
    assert result.exit_code == 2
    assert "'no-such-branch' is not a commit, branch or tag" in result.output


def test_option_looking_ref_is_refused(repo: Path) -> None:
    result = runner.invoke(app, ["plan", "--ref=--output=/tmp/x"])
    assert result.exit_code == 2 and "is not a git ref" in result.output


def test_rules_invalid_at_the_ref_exit_2_with_located_problems(repo: Path) -> None:
    write(repo / "rules/r.yaml", RULES_V1.replace("sms.send", "sms.sned"))
    git(repo, "commit", "-q", "-am", "broken")
    write(repo / "rules/r.yaml", RULES_V1)
    result = runner.invoke(app, ["plan"])
    assert result.exit_code == 2
    assert ("HEAD:rules/r.yaml:6:9: rules[0].do[0].sms.sned: unknown action 'sms.sned' "
            "(did you mean 'sms.send'?)") in result.output
    assert "the rules at HEAD have problems: 1 problem in 1 file" in result.output


def test_rules_invalid_in_the_working_tree_exit_2(repo: Path) -> None:
    write(repo / "rules/r.yaml", RULES_V1.replace("on: service_order.assigned", "on: Service Order"))
    result = runner.invoke(app, ["plan"])
    assert result.exit_code == 2
    assert "the rules in the working tree have problems" in result.output


def test_rules_folder_missing_at_the_ref_exits_2(repo: Path) -> None:
    git(repo, "mv", "rules", "regras")
    git(repo, "commit", "-q", "-m", "moved")
    write(repo / "rules/r.yaml", RULES_V1)
    result = runner.invoke(app, ["plan"])
    assert result.exit_code == 2 and "rules: not in the repository at" in result.output


def test_not_a_git_repository_exits_2(project: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    write(project / "rules/r.yaml", RULES_V1)
    monkeypatch.setenv("DESPACHO_DATABASE__URL", db_url)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(project.parent))
    result = runner.invoke(app, ["plan"])
    assert result.exit_code == 2 and "not a git repository" in result.output


def test_unmigrated_database_exits_2_saying_how_to_fix_it(repo: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    empty = repo / "empty.db"
    sa.create_engine(f"sqlite:///{empty}").connect().close()
    monkeypatch.setenv("DESPACHO_DATABASE__URL", f"sqlite:///{empty}")
    result = runner.invoke(app, ["plan"])
    assert result.exit_code == 2 and "despacho db upgrade" in result.output


def test_plan_writes_nothing_and_sends_nothing(repo: Path, db_url: str) -> None:
    write(repo / "rules/r.yaml", RULES_V1.replace("a caminho", "chega hoje"))
    engine = make_engine(db_url)
    counts = "SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM rule_runs), " \
             "(SELECT count(*) FROM events WHERE dispatched_at IS NOT NULL)"
    with engine.connect() as connection:
        before = connection.execute(sa.text(counts)).one()
    assert runner.invoke(app, ["plan"]).exit_code == 1
    with engine.connect() as connection:
        assert connection.execute(sa.text(counts)).one() == before == (EXAMPLE_COUNT, 0, 0)
    engine.dispose()
    assert not (repo / "var").exists(), "no connector wrote to the outbox"
    assert git(repo, "status", "--porcelain") == "M rules/r.yaml"


def test_stored_event_the_engine_cannot_read_is_counted_and_left_out(repo: Path, db_url: str) -> None:
    engine = make_engine(db_url)
    with session_scope(engine) as session:  # stored by an older version, before types were checked
        insert_events(session, [event_row("odd", "Tipo Estranho", {}, occurred_at=utcnow(), source="api")])
    engine.dispose()
    code, report = plan_json()
    assert code == 0 and (report["events"], report["unreadable"]) == (EXAMPLE_COUNT, 1)
    text = runner.invoke(app, ["plan"]).output
    assert "1 stored event was left out: not readable as events (type or fields)" in text
