"""Read access to what the engine did: rules as loaded, runs and steps, notifications, backups;
and the two things a person does with dead letters: retry or discard them.
"""

from __future__ import annotations

import subprocess
from dataclasses import asdict
from pathlib import Path

from fastapi import APIRouter, Request
from sqlmodel import Session

from api.auth import Principal, requires
from api.context import ApiContext
from api.crud import Cursor, DbSession, DbTransaction, Limit, get_live, sort_type
from api.errors import NotFoundError
from api.schemas.common import Id, IdList, Page, Short
from api.schemas.operations import (
    BackupOut,
    ConditionOut,
    DaemonRulesOut,
    DeadLetterOut,
    DiscardedOut,
    NotificationOut,
    ReloadErrorOut,
    RetriedOut,
    RuleOut,
    RulesOut,
    RunDetail,
    RunOut,
    StepOut,
)
from engine.language.loader import load_rules
from engine.language.ruleset import RuleSet
from engine.runtime import deadletters
from engine.runtime.outbox import Transaction
from store.audit import record_action
from store.listing import ListSpec, list_page
from store.models import Backup, DeadLetter, Notification, RuleStep
from store.run_views import RUNS, run_view

router = APIRouter(prefix="/v1", tags=["operations"])
STEPS = ListSpec(RuleStep, ("created_at",), ("run_id", "status", "action"), "-created_at")
NOTIFICATIONS = ListSpec(Notification, ("created_at",), ("channel", "status", "customer_id", "step_id"),
                         "-created_at", (Notification.deleted_at.is_(None),))
DEAD_LETTERS = ListSpec(DeadLetter, ("created_at",), ("rule_id", "action", "resolution"), "-created_at",
                        (DeadLetter.deleted_at.is_(None),))
BACKUPS = ListSpec(Backup, ("started_at",), ("status",), "-started_at", (Backup.deleted_at.is_(None),))


def _rules(ctx: ApiContext) -> RulesOut:
    """The rules in force when this process runs them (its engine core), else the files as they load."""
    settings = ctx.settings
    commit = git_commit(Path(settings.rules.path))
    if ctx.core is None:
        result = load_rules([settings.rules.path], settings.templates.path)
        return RulesOut(source="files", rules=_rule_list(result.ruleset, commit),
                        problems=[p.to_dict() for p in result.problems])
    active = ctx.core.rules.state()
    error = active.reload_error
    problems = [p.to_dict() for p in error.problems] if error else []
    return RulesOut(source="runtime", loaded_at=active.loaded_at, digest=active.digest,
                    reload_error=ReloadErrorOut(at=error.at, problems=problems) if error else None,
                    rules=_rule_list(active.ruleset, commit), problems=problems)


def _rule_list(ruleset: RuleSet, commit: str | None) -> list[RuleOut]:
    return [RuleOut(id=r.id, file=r.file, line=r.line, enabled=r.rule.enabled, commit=commit,
                    rule=r.rule.model_dump(mode="json", by_alias=True, exclude_none=True))
            for r in ruleset.rules]


def git_commit(folder: Path) -> str | None:
    """HEAD of the checkout holding ``folder``, or ``None`` when it is not one."""
    try:
        done = subprocess.run(["git", "-C", str(folder), "rev-parse", "HEAD"], capture_output=True,
                              text=True, timeout=2, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return (done.stdout.strip() or None) if done.returncode == 0 else None

RunSort = sort_type(RUNS)
StepSort = sort_type(STEPS)
NotificationSort = sort_type(NOTIFICATIONS)
DeadLetterSort = sort_type(DEAD_LETTERS)
BackupSort = sort_type(BACKUPS)

@router.get("/rules", response_model=RulesOut)
def list_rules(request: Request, principal: requires("rules:read")) -> RulesOut:
    """The rules in force (file, line, git commit), when they were loaded, and the last refused reload."""
    return _rules(request.app.state.ctx)


@router.get("/rules/daemons", response_model=list[DaemonRulesOut])
def list_daemon_rules(session: DbSession, principal: requires("rules:read")) -> list[DaemonRulesOut]:
    """Each daemon's rule set in force (git commit and since when), and a newer set its files offer:
    waiting for the other daemons to load it, or refused (with the problems)."""
    from engine.runtime.rollout import daemon_views

    return [DaemonRulesOut.model_validate(asdict(view)) for view in daemon_views(session)]


@router.get("/rules/{rule_id}", response_model=RuleOut)
def get_rule(request: Request, principal: requires("rules:read"), rule_id: str) -> RuleOut:
    for rule in _rules(request.app.state.ctx).rules:
        if rule.id == rule_id:
            return rule
    raise NotFoundError(f"rule '{rule_id}' not found", details={"entity": "rule", "id": rule_id})


@router.get("/runs", response_model=Page[RunOut])
def list_runs(session: DbSession, principal: requires("runs:read"), limit: Limit = 50, cursor: Cursor = None,
              sort: RunSort = None, rule_id: Short | None = None, event_id: Short | None = None,
              status: Short | None = None) -> Page[RunOut]:
    page = list_page(session, RUNS, sort=sort, limit=limit, cursor=cursor,
                     filters={"rule_id": rule_id, "event_id": event_id, "status": status})
    return Page(items=[RunOut.model_validate(r) for r in page.items], next_cursor=page.next_cursor)


@router.get("/runs/{run_id}", response_model=RunDetail)
def get_run(session: DbSession, principal: requires("runs:read"), run_id: str) -> RunDetail:
    """One run: its condition trace, then its steps in rule order with params, output, error and timings."""
    view = run_view(session, run_id)
    trace = view.run.trace
    conditions = None if trace is None else \
        [ConditionOut.model_validate(c) for c in trace.get("conditions", [])]
    return RunDetail(**RunOut.model_validate(view.run).model_dump(), conditions=conditions,
                     steps=[StepOut.model_validate(s) for s in view.steps])


@router.get("/steps", response_model=Page[StepOut])
def list_steps(session: DbSession, principal: requires("runs:read"), limit: Limit = 50, cursor: Cursor = None,
               sort: StepSort = None, run_id: Id | None = None, status: Short | None = None,
               action: Short | None = None) -> Page[StepOut]:
    page = list_page(session, STEPS, sort=sort, limit=limit, cursor=cursor,
                     filters={"run_id": run_id, "status": status, "action": action})
    return Page(items=[StepOut.model_validate(s) for s in page.items], next_cursor=page.next_cursor)


@router.get("/notifications", response_model=Page[NotificationOut])
def list_notifications(session: DbSession, principal: requires("runs:read"), limit: Limit = 50,
                       cursor: Cursor = None, sort: NotificationSort = None, channel: Short | None = None,
                       status: Short | None = None, customer_id: Id | None = None,
                       step_id: Id | None = None) -> Page[NotificationOut]:
    page = list_page(session, NOTIFICATIONS, sort=sort, limit=limit, cursor=cursor,
                     filters={"channel": channel, "status": status, "customer_id": customer_id,
                              "step_id": step_id})
    return Page(items=[NotificationOut.model_validate(n) for n in page.items], next_cursor=page.next_cursor)


@router.get("/notifications/{notification_id}", response_model=NotificationOut)
def get_notification(session: DbSession, principal: requires("runs:read"),
                     notification_id: str) -> NotificationOut:
    return NotificationOut.model_validate(get_live(session, Notification, notification_id))


@router.get("/dead-letters", response_model=Page[DeadLetterOut])
def list_dead_letters(session: DbSession, principal: requires("deadletters:read"), limit: Limit = 50,
                      cursor: Cursor = None, sort: DeadLetterSort = None, rule_id: Short | None = None,
                      action: Short | None = None, resolved: bool | None = None) -> Page[DeadLetterOut]:
    spec = DEAD_LETTERS
    if resolved is not None:
        unresolved = DeadLetter.resolved_at.is_(None)
        spec = ListSpec(DeadLetter, spec.sort_fields, spec.filter_fields, spec.default_sort,
                        (*spec.conditions, ~unresolved if resolved else unresolved))
    page = list_page(session, spec, sort=sort, limit=limit, cursor=cursor,
                     filters={"rule_id": rule_id, "action": action})
    return Page(items=[DeadLetterOut.model_validate(d) for d in page.items], next_cursor=page.next_cursor)


@router.get("/dead-letters/{dead_letter_id}", response_model=DeadLetterOut)
def get_dead_letter(session: DbSession, principal: requires("deadletters:read"),
                    dead_letter_id: str) -> DeadLetterOut:
    return DeadLetterOut.model_validate(get_live(session, DeadLetter, dead_letter_id))


@router.post("/dead-letters/retry", response_model=RetriedOut)
def retry_dead_letters(tx: DbTransaction, principal: requires("deadletters:write"),
                       body: IdList) -> RetriedOut:
    """Run the dead steps again; an unknown id fails the whole request (404), nothing is requeued."""
    return _retry(tx, principal, body.ids)


@router.post("/dead-letters/discard", response_model=DiscardedOut)
def discard_dead_letters(session: DbSession, principal: requires("deadletters:write"),
                         body: IdList) -> DiscardedOut:
    return _discard(session, principal, body.ids)


@router.post("/dead-letters/{dead_letter_id}/retry", response_model=RetriedOut)
def retry_dead_letter(tx: DbTransaction, principal: requires("deadletters:write"),
                      dead_letter_id: str) -> RetriedOut:
    return _retry(tx, principal, [dead_letter_id])


@router.post("/dead-letters/{dead_letter_id}/discard", response_model=DiscardedOut)
def discard_dead_letter(session: DbSession, principal: requires("deadletters:write"),
                        dead_letter_id: str) -> DiscardedOut:
    return _discard(session, principal, [dead_letter_id])


def _retry(tx: Transaction, principal: Principal, ids: list[str]) -> RetriedOut:
    step_ids = deadletters.retry(tx, ids, principal.actor)
    # a critical action: recorded in the retry's own transaction, so it exists exactly if the retry does
    record_action(tx.session, principal.actor, "dead_letters.retry", entity_type="dead_letter",
                  details={"ids": ids, "requeued_step_ids": step_ids})
    return RetriedOut(requeued_step_ids=step_ids)


def _discard(session: Session, principal: Principal, ids: list[str]) -> DiscardedOut:
    count = deadletters.discard(session, ids, principal.actor)
    record_action(session, principal.actor, "dead_letters.discard", entity_type="dead_letter",
                  details={"ids": ids, "discarded": count})
    return DiscardedOut(discarded=count)


@router.get("/backups", response_model=Page[BackupOut])
def list_backups(session: DbSession, principal: requires("backups:read"), limit: Limit = 50,
                 cursor: Cursor = None, sort: BackupSort = None,
                 status: Short | None = None) -> Page[BackupOut]:
    page = list_page(session, BACKUPS, sort=sort, limit=limit, cursor=cursor, filters={"status": status})
    return Page(items=[BackupOut.model_validate(b) for b in page.items], next_cursor=page.next_cursor)


@router.get("/backups/{backup_id}", response_model=BackupOut)
def get_backup(session: DbSession, principal: requires("backups:read"), backup_id: str) -> BackupOut:
    return BackupOut.model_validate(get_live(session, Backup, backup_id))
