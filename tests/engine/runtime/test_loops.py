"""for_each steps in the runner: one call per item (or group) under its own key; a retry repeats nothing."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlmodel import Session, select

from connectors.base import ActionCall, Connector
from engine.language.events import Event
from engine.language.loops import LOOP_OUTPUTS
from errors import TransientError
from store.models import Customer, Notification
from store.models.runs import DeadLetter, RuleRun, RuleStep
from store.seed import seed_demo
from tests.engine.runtime.pipeline_helpers import make_driver, make_project, run_retries_now

REPO = Path(__file__).resolve().parents[3]

EACH = """
rules:
  - id: each
    on: batch.ready
    do:
      - sms.send:
          to: "{{ line.phone }}"
          body: "Pedido {{ line.id }} pronto"
        for_each: data.lines
        as: line
        if: line.phone != ""
"""

GROUPED = """
rules:
  - id: grouped
    on: batch.ready
    do:
      - sms.send:
          to: "{{ group.key }}"
          body: "{{ group.count }} pedidos: {% for l in group.members %}{{ l.id }} {% endfor %}"
        for_each: data.lines
        group_by: "{{ item.phone }}"
"""

LINES = [{"id": "p1", "phone": "+5511987654321"}, {"id": "p2", "phone": "+5511976543210"},
         {"id": "p3", "phone": "+5511987654321"}, {"id": "p4", "phone": ""}]


class FailsOnce(Connector):
    """The real connector, with one call (the n-th) failing transiently once."""

    def __init__(self, base: Connector, fail_at: int) -> None:
        super().__init__(base.settings, base.runtime)
        self.name = base.name  # type: ignore[misc]
        self.actions = base.actions  # type: ignore[misc]
        self.base = base
        self.fail_at = fail_at
        self.calls: list[ActionCall] = []
        self.outputs: list[dict[str, Any]] = []

    def execute(self, call: ActionCall) -> dict[str, Any]:
        self.calls.append(call)
        if len(self.calls) == self.fail_at:
            raise TransientError("503 from the provider")
        outputs = self.base.execute(call)
        self.outputs.append(outputs)
        return outputs


def rows(driver: Any, model: Any, *where: Any) -> list[Any]:
    with Session(driver.core.db) as session:
        return list(session.exec(select(model).where(*where)))


def outbox(root: Path, channel: str) -> list[dict[str, Any]]:
    folder = root / "outbox" / channel
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))] if folder.exists() else []


def test_one_call_per_item_each_under_its_own_key_skipping_items_the_if_refuses(tmp_path: Path) -> None:
    driver = make_driver(make_project(tmp_path, EACH))
    driver.emit("batch.ready", "b1", lines=LINES)
    assert driver.drain() == ["succeeded"]
    (step,) = rows(driver, RuleStep)
    assert set(step.output) == set(LOOP_OUTPUTS)  # what dry-run shows as steps.<id> of a loop
    assert step.output["count"] == 3 and step.output["skipped"] == 1
    assert [item["status"] for item in step.output["items"]] == ["sent", "sent", "sent"]
    assert [p["body"] for p in step.params["items"]] == ["Pedido p1 pronto", "Pedido p2 pronto",
                                                         "Pedido p3 pronto"]
    sent = rows(driver, Notification)
    assert sorted(n.body for n in sent) == ["Pedido p1 pronto", "Pedido p2 pronto", "Pedido p3 pronto"]
    assert {n.step_id for n in sent} == {step.id}
    assert len(outbox(tmp_path, "sms")) == 3


def test_a_retry_after_item_three_failed_does_not_send_items_one_and_two_again(tmp_path: Path) -> None:
    driver = make_driver(make_project(tmp_path, EACH))
    connectors = driver.core.runner.connectors
    connectors["sms"] = flaky = FailsOnce(connectors["sms"], fail_at=3)
    driver.emit("batch.ready", "b1", lines=LINES)
    driver.drain()
    (step,) = rows(driver, RuleStep)
    assert (step.status, step.attempts) == ("queued", 1)
    run_retries_now(driver)
    (step,) = rows(driver, RuleStep)
    assert (step.status, step.attempts) == ("succeeded", 2)
    keys = [call.idempotency_key for call in flaky.calls]
    assert keys == ["each:b1:do[0]#p1", "each:b1:do[0]#p2", "each:b1:do[0]#p3",
                    "each:b1:do[0]#p1", "each:b1:do[0]#p2", "each:b1:do[0]#p3"]
    assert [o.get("duplicate", False) for o in flaky.outputs] == [False, False, True, True, False]
    assert len(rows(driver, Notification)) == 3  # one row per item, the retried one reused
    assert len(outbox(tmp_path, "sms")) == 3
    assert rows(driver, DeadLetter) == []


def test_a_call_that_fails_for_good_does_not_keep_the_others_from_being_made(tmp_path: Path) -> None:
    driver = make_driver(make_project(tmp_path, EACH))
    with Session(driver.core.db) as session:
        session.add(Customer(name="Rita Alves", phone="+5511976543210", opt_outs=["sms"]))
        session.commit()
    driver.emit("batch.ready", "b1", lines=LINES)
    assert driver.drain() == ["dead"]
    (step,) = rows(driver, RuleStep)
    assert step.error_code == "opted_out"
    assert step.last_error.startswith("1 of 3 calls failed for good; item p2: ")
    sent = {n.body: n.status for n in rows(driver, Notification)}
    assert sent == {"Pedido p1 pronto": "sent", "Pedido p2 pronto": "failed", "Pedido p3 pronto": "sent"}
    (dead,) = rows(driver, DeadLetter)
    assert dead.step_id == step.id


def test_group_by_makes_one_call_per_group_with_all_of_its_items(tmp_path: Path) -> None:
    driver = make_driver(make_project(tmp_path, GROUPED))
    lines = [line for line in LINES if line["phone"]]
    driver.emit("batch.ready", "b1", lines=lines)
    assert driver.drain() == ["succeeded"]
    sent = sorted((n.recipient, n.body) for n in rows(driver, Notification))
    assert sent == [("+5511976543210", "1 pedidos: p2 "), ("+5511987654321", "2 pedidos: p1 p3 ")]
    (step,) = rows(driver, RuleStep)
    assert step.output["count"] == 2


def test_an_item_that_does_not_render_fails_the_step_before_any_call(tmp_path: Path) -> None:
    driver = make_driver(make_project(tmp_path, EACH.replace('if: line.phone != ""', "")))
    driver.emit("batch.ready", "b1", lines=[{"id": "p1", "phone": "+5511987654321"}, {"id": "p2"}])
    assert driver.drain() == ["dead"]
    (step,) = rows(driver, RuleStep)
    assert step.error_code == "render_error"
    assert "item p2:" in (step.last_error or "")
    assert rows(driver, Notification) == []


def test_a_list_over_the_limit_fails_the_step_with_a_clear_error(tmp_path: Path) -> None:
    driver = make_driver(make_project(tmp_path, EACH))
    driver.emit("batch.ready", "b1", lines=[{"id": f"p{i}", "phone": ""} for i in range(501)])
    assert driver.drain() == ["dead"]
    (step,) = rows(driver, RuleStep)
    assert step.error_code == "too_many_items"
    assert step.last_error == "for_each: data.lines has 501 items, over the limit of 500"


def test_the_daily_agenda_emails_each_technician_of_the_demo_company_their_visits(tmp_path: Path) -> None:
    """The rule in rules/appointments.yaml, its template, the demo seed: one email per technician."""
    config = make_project(tmp_path, "rules: []\n")
    shutil.copy(REPO / "rules" / "appointments.yaml", tmp_path / "rules" / "r.yaml")
    shutil.copytree(REPO / "templates" / "email", tmp_path / "templates" / "email")
    shutil.copytree(REPO / "templates" / "whatsapp", tmp_path / "templates" / "whatsapp", dirs_exist_ok=True)
    shutil.copytree(REPO / "templates" / "sms", tmp_path / "templates" / "sms", dirs_exist_ok=True)
    driver = make_driver(config)
    with Session(driver.core.db) as session:
        seed_demo(session, at=datetime(2026, 12, 1, 12, 0, tzinfo=UTC), customers=30, technicians=5,
                  orders=300)
        session.commit()
    # asked for at 07:00 in São Paulo on the 2nd: that day's visits, whenever the steps run
    driver.core.accept([Event(type="agenda.requested", id="a1", at=datetime(2026, 12, 2, 10, 0, tzinfo=UTC))])
    assert driver.drain() == ["succeeded", "succeeded"]
    query, emails = sorted(rows(driver, RuleStep), key=lambda s: s.position)
    visits = query.output["rows"]
    technicians = {row["technician"]["id"]: row["technician"] for row in visits}
    assert len(visits) >= 2 and emails.output["count"] == len(technicians)
    sent = [n for n in rows(driver, Notification) if n.step_id]  # the demo company's own have no step
    assert sorted(n.recipient for n in sent) == sorted(t["email"] for t in technicians.values())
    for notification in sent:
        mine = [row for row in visits if row["technician"]["email"] == notification.recipient]
        assert notification.subject.endswith(f"{len(mine)} visita" + ("s" if len(mine) > 1 else ""))
        for row in mine:
            assert f"OS {row['order']['id'][:8].upper()}" in notification.body
    assert {run.status for run in rows(driver, RuleRun)} == {"succeeded"}
