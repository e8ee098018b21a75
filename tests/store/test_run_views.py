"""Runs as a person reads them: filtered pages, and one run's steps in rule order with dead letters."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlmodel import Session

from store.errors import NotFound
from store.models.events import Event
from store.models.runs import DeadLetter, RuleRun, RuleStep
from store.run_views import list_runs, resolve_run_id, run_view


def add_run(session: Session, at: datetime, run_id: str, rule_id: str, status: str = "succeeded",
            event_id: str | None = "e1") -> RuleRun:
    run = RuleRun(id=run_id, rule_id=rule_id, event_id=event_id, status=status, created_at=at)
    session.add(run)
    return run


@pytest.fixture
def history(session: Session, at: datetime) -> Session:
    session.add(Event(id="e1", type="service_order.assigned", source="erp", occurred_at=at))
    session.add(Event(id="e2", type="invoice.paid", source="erp", occurred_at=at))
    session.flush()
    for index, (rule_id, status, event_id) in enumerate([
            ("notify", "succeeded", "e1"), ("notify", "held", "e1"), ("sync", "skipped", "e2"),
            ("sync", "failed", "e2"), ("notify", "succeeded", "e2")]):
        add_run(session, at + timedelta(minutes=index), f"run-{index}", rule_id, status, event_id)
    session.commit()
    return session


def test_runs_are_listed_newest_first_and_filters_combine(history: Session) -> None:
    assert [r.id for r in list_runs(history).items] == ["run-4", "run-3", "run-2", "run-1", "run-0"]
    assert [r.id for r in list_runs(history, rule_id="notify", event_id="e1").items] == ["run-1", "run-0"]
    assert [r.id for r in list_runs(history, status="held").items] == ["run-1"]


def test_a_page_ends_with_a_cursor_to_the_next(history: Session) -> None:
    first = list_runs(history, limit=2)
    second = list_runs(history, limit=2, cursor=first.next_cursor)
    assert [r.id for r in first.items] + [r.id for r in second.items] == ["run-4", "run-3", "run-2", "run-1"]


def test_a_run_shows_its_event_and_each_step_followed_by_its_fallbacks(history: Session,
                                                                       at: datetime) -> None:
    run = add_run(history, at, "run-9", "backup")
    steps = [RuleStep(id="s-notify", run_id=run.id, position=1, action="sms.send", idempotency_key="k1"),
             RuleStep(id="s-backup", run_id=run.id, position=0, action="backup.run", idempotency_key="k2",
                      status="dead"),
             RuleStep(id="s-fb-2", run_id=run.id, position=1, action="email.send", fallback_of="s-backup",
                      idempotency_key="k3"),
             RuleStep(id="s-fb-1", run_id=run.id, position=0, action="sms.send", fallback_of="s-backup",
                      idempotency_key="k4")]
    history.add_all(steps)
    history.flush()
    history.add(DeadLetter(id="dl-1", step_id="s-backup", rule_id="backup", action="backup.run",
                           error="disk full"))
    history.commit()
    view = run_view(history, resolve_run_id(history, "run-9"))
    assert [s.id for s in view.steps] == ["s-backup", "s-fb-1", "s-fb-2", "s-notify"]
    assert view.event is not None and view.event.type == "service_order.assigned"
    assert list(view.dead_letters) == ["s-backup"]


def test_an_unknown_run_is_not_found(history: Session) -> None:
    with pytest.raises(NotFound, match="rule_run 'nope-nope' not found"):
        run_view(history, "nope-nope")
