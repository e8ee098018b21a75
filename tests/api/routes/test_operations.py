"""Rules as loaded (with file, line and commit), dead letters, runs and backups."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import Session

from api.settings import ApiSettings
from engine.settings import Settings

RULE = """\
rules:
  - id: notify
    on: invoice.paid
    do:
      - event.emit:
          type: customer.notified
"""


def test_rules_are_listed_with_their_file_and_line(client: TestClient, settings: Settings,
                                                   auth: Callable[..., dict[str, str]]) -> None:
    (settings.rules.path / "a.yaml").write_text(RULE, encoding="utf-8")
    body = client.get("/v1/rules", headers=auth("rules:read")).json()
    assert (body["source"], body["problems"]) == ("files", [])  # this app runs no rules: the files
    [rule] = body["rules"]
    assert (rule["id"], rule["line"], rule["enabled"]) == ("notify", 2, True)
    assert rule["file"].endswith("a.yaml")
    assert rule["commit"] is None  # the temporary folder is not a git checkout
    assert rule["rule"]["on"] == [{"event": "invoice.paid"}]
    assert client.get("/v1/rules/notify", headers=auth("rules:read")).status_code == 200
    assert client.get("/v1/rules/missing", headers=auth("rules:read")).status_code == 404


def test_retrying_an_unknown_dead_letter_is_404(client: TestClient,
                                                auth: Callable[..., dict[str, str]]) -> None:
    response = client.post("/v1/dead-letters/unknown/retry", headers=auth("deadletters:write"))
    assert response.status_code == 404
    assert response.json()["error"]["details"]["entity"] == "dead_letter"


def test_empty_lists_are_pages(client: TestClient, auth: Callable[..., dict[str, str]]) -> None:
    headers = auth("admin")
    for path in ("/v1/runs", "/v1/steps", "/v1/notifications", "/v1/dead-letters", "/v1/backups"):
        assert client.get(path, headers=headers).json() == {"items": [], "next_cursor": None}, path


def test_rules_show_the_set_in_force_and_the_last_refused_reload(
        settings: Settings, api_config: ApiSettings, auth: Callable[..., dict[str, str]]) -> None:
    from api.app import create_app
    from engine.runtime.compose import build_core

    (settings.rules.path / "a.yaml").write_text(RULE, encoding="utf-8")
    core = build_core(settings, consume=False)
    with TestClient(create_app(settings, api=api_config, core=core)) as client:
        body = client.get("/v1/rules", headers=auth("rules:read")).json()
        assert (body["source"], body["reload_error"], body["problems"]) == ("runtime", None, [])
        assert body["loaded_at"] and len(body["digest"]) == 64
        (settings.rules.path / "a.yaml").write_text(RULE.replace("invoice.paid", "invoice paid"))
        assert not core.rules.reload().ok
        body = client.get("/v1/rules", headers=auth("rules:read")).json()
    assert [rule["rule"]["on"] for rule in body["rules"]] == [[{"event": "invoice.paid"}]]  # still in force
    [problem] = body["reload_error"]["problems"]
    assert problem["file"].endswith("a.yaml") and problem["line"] == 3
    assert body["problems"] == body["reload_error"]["problems"]
    core.close()


TRACED = """\
rules:
  - id: paid-big
    on: invoice.paid
    if:
      - data.amount > 100
      - not: data.test
    do:
      - event.emit: {type: customer.notified, data: {amount: "{{ data.amount }}"}}
        fallback:
          - log.write: {message: "could not emit"}
"""


def test_runs_list_by_rule_and_show_the_condition_trace_and_steps_in_rule_order(
        client: TestClient, settings: Settings, auth: Callable[..., dict[str, str]]) -> None:
    from engine.language.events import Event
    from engine.runtime.compose import build_core

    (settings.rules.path / "a.yaml").write_text(TRACED, encoding="utf-8")
    core = build_core(settings, consume=False)
    core.accept([Event(type="invoice.paid", id="p1", data={"amount": 250, "test": False}),
                 Event(type="invoice.paid", id="p2", data={"amount": 250})])
    core.relay.relay_once()
    core.close()
    headers = auth("runs:read")
    page = client.get("/v1/runs", params={"rule_id": "paid-big", "status": "planned"}, headers=headers).json()
    (run,) = page["items"]
    assert (run["event_id"], run["hold_reason"]) == ("p1", None)
    assert run["ruleset_version"].startswith("sha256:")  # the accepted set the run was planned under
    body = client.get(f"/v1/runs/{run['id']}", headers=headers).json()
    assert body["conditions"] == [
        {"path": "if[0]", "condition": "data.amount > 100", "result": True, "error": None},
        {"path": "if[1]", "condition": "not: data.test", "result": True, "error": None}]
    assert [(s["action"], s["status"], s["fallback_of"] is None) for s in body["steps"]] == [
        ("event.emit", "queued", True), ("log.write", "pending", False)]
    assert body["steps"][0]["queued_at"] and "params" in body["steps"][0]
    skipped = client.get("/v1/runs", params={"event_id": "p2"}, headers=headers).json()["items"][0]
    body = client.get(f"/v1/runs/{skipped['id']}", headers=headers).json()
    assert body["status"] == "skipped" and body["steps"] == []
    assert body["conditions"][1] == {"path": "if[1]", "condition": "not: data.test", "result": None,
                                     "error": "no such field 'test' in the event"}


def test_an_unknown_run_is_404_and_needs_runs_read(client: TestClient,
                                                   auth: Callable[..., dict[str, str]]) -> None:
    response = client.get("/v1/runs/nope", headers=auth("runs:read"))
    assert response.status_code == 404
    assert response.json()["error"]["details"]["entity"] == "rule_run"
    assert client.get("/v1/runs", headers=auth("orders:read")).status_code == 403


def test_each_daemons_rules_in_force_and_offered_are_listed_with_the_rules_scope(
        client: TestClient, auth: Callable[..., dict[str, str]], db_engine: sa.Engine) -> None:
    from store.daemon_rules import Candidate, Presence, report

    offered = Candidate("e" * 64, "7b0d4e2", False, ("r.yaml:3:5: do: not allowed",))
    with Session(db_engine) as session:
        report(session, Presence("worker-1:41:ab12cd34", "worker-1", 41, "relay,workers", "d" * 64,
                                 "3f2a9c1", offered), active_changed=True, candidate_changed=True)
        session.commit()
    assert client.get("/v1/rules/daemons", headers=auth("runs:read")).status_code == 403
    (shown,) = client.get("/v1/rules/daemons", headers=auth("rules:read")).json()
    assert (shown["id"], shown["version"], shown["live"]) == ("worker-1:41:ab12cd34", "3f2a9c1", True)
    assert (shown["offered"], shown["offered_state"]) == ("7b0d4e2", "refused")
    assert shown["problems"] == ["r.yaml:3:5: do: not allowed"]
