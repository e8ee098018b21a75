"""What a person reads about runs: a filtered list, and one run with its event, steps and dead letters."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session, col, select

from store.listing import ListSpec, Page, list_page
from store.models.events import Event
from store.models.runs import DeadLetter, RuleRun, RuleStep
from store.prefixes import resolve_prefix

RUNS = ListSpec(RuleRun, ("created_at",), ("rule_id", "event_id", "status"), "-created_at")


@dataclass(frozen=True)
class RunView:
    run: RuleRun
    event: Event | None  # None for a run no stored event started (none today; kept for old rows)
    steps: Sequence[RuleStep]  # by position, fallbacks after the step they replace
    dead_letters: dict[str, DeadLetter]  # by step id


def list_runs(session: Session, *, rule_id: str | None = None, event_id: str | None = None,
              status: str | None = None, limit: int = 50, cursor: str | None = None) -> Page[RuleRun]:
    """Newest first; every filter is optional and they combine."""
    return list_page(session, RUNS, limit=limit, cursor=cursor,
                     filters={"rule_id": rule_id, "event_id": event_id, "status": status})


def resolve_run_id(session: Session, typed: str) -> str:
    """A run's full id from the id or a unique prefix of it (``NotFound``, ``AmbiguousId``)."""
    return resolve_prefix(session, col(RuleRun.id), typed, RuleRun.entity)


def run_view(session: Session, run_id: str) -> RunView:
    """One run by its full id (see ``resolve_run_id``); raises ``NotFound``."""
    from store.errors import NotFound

    run = session.get(RuleRun, run_id)
    if run is None:
        raise NotFound(RuleRun.entity, run_id, field="id")
    steps = _tree_order(session.exec(select(RuleStep).where(RuleStep.run_id == run.id)).all())
    letters = session.exec(select(DeadLetter).where(col(DeadLetter.step_id).in_([s.id for s in steps]),
                                                    col(DeadLetter.deleted_at).is_(None))).all()
    event = session.get(Event, run.event_id) if run.event_id else None
    return RunView(run, event, steps, {letter.step_id: letter for letter in letters})


def _tree_order(steps: Sequence[RuleStep]) -> list[RuleStep]:
    """The rule's actions in order, each followed by its fallbacks (positions restart per parent)."""
    children: dict[str | None, list[RuleStep]] = {}
    for step in steps:
        children.setdefault(step.fallback_of, []).append(step)
    ordered: list[RuleStep] = []

    def visit(parent: str | None) -> None:
        for step in sorted(children.get(parent, []), key=lambda s: s.position):
            ordered.append(step)
            visit(step.id)

    visit(None)
    return ordered


@dataclass(frozen=True)
class RunSearch:
    """The console's search: every field optional; ``customer`` is a customer's id, or part of the name,
    as the triggering event's payload carries it (``customer.id``/``name``, ``<record>.customer_id``)."""

    rule_id: str | None = None
    event: str | None = None  # an event id, or its type
    customer: str | None = None
    status: str | None = None


CUSTOMER_PATHS = (("customer", "id"), ("order", "customer_id"), ("invoice", "customer_id"),
                  ("appointment", "customer_id"), ("payment", "customer_id"))


def search_runs(session: Session, search: RunSearch, *, limit: int = 50, offset: int = 0) -> list[RuleRun]:
    """Newest first; ``limit + 1`` rows are not fetched: ask for one more to know if a next page exists."""
    statement = select(RuleRun)
    if search.rule_id:
        statement = statement.where(RuleRun.rule_id == search.rule_id)
    if search.status:
        statement = statement.where(RuleRun.status == search.status)
    if search.event or search.customer:
        statement = statement.join(Event, col(Event.id) == RuleRun.event_id)
    if search.event:
        statement = statement.where(sa.or_(col(Event.id) == search.event, col(Event.type) == search.event))
    if search.customer:
        payload = col(Event.payload)
        wanted = [payload[a][b].as_string() == search.customer for a, b in CUSTOMER_PATHS]
        pattern = "%" + search.customer.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        wanted.append(payload["customer"]["name"].as_string().ilike(pattern, escape="\\"))
        statement = statement.where(sa.or_(*wanted))
    ordered = statement.order_by(col(RuleRun.created_at).desc(), col(RuleRun.id).desc())
    return list(session.exec(ordered.offset(offset).limit(limit)).all())
