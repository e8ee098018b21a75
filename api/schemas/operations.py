"""Events, rules, runs, steps, notifications, dead letters and backups on the wire (read mostly)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from api.schemas.common import Output


class AcceptedEvent(BaseModel):
    id: str
    stored: bool  # false: this id was already stored, the delivery changed nothing


class EventsAccepted(BaseModel):
    accepted: list[AcceptedEvent]


class EventOut(Output):
    id: str
    type: str
    source: str
    occurred_at: datetime
    recorded_at: datetime
    payload: dict[str, Any]
    dispatched_at: datetime | None


class RuleOut(BaseModel):
    id: str
    file: str
    line: int
    enabled: bool
    commit: str | None
    rule: dict[str, Any]


class ReloadErrorOut(BaseModel):
    at: datetime
    problems: list[dict[str, Any]]


class RulesOut(BaseModel):
    source: Literal["runtime", "files"] = Field(
        description="runtime: the set this process runs; files: this process runs no rules, and shows "
                    "the rule files as they load now")
    loaded_at: datetime | None = Field(None, description="When the set in force was loaded (runtime)")
    digest: str | None = Field(None, description="SHA-256 of the rule and template files it came from")
    reload_error: ReloadErrorOut | None = Field(
        None, description="Why the last reload was refused (the set in force is older than the files)")
    rules: list[RuleOut]
    problems: list[dict[str, Any]] = Field(description="Problems of the files on disk that keep them "
                                                       "from being loaded")


class DaemonRulesOut(BaseModel):
    id: str = Field(description="host:pid:random, one per daemon process")
    host: str
    parts: str = Field(description="What it runs: relay, workers, scheduler")
    live: bool = Field(description="Seen in the last 30 s; a gone daemon does not hold up a new rule set")
    seen_at: datetime
    version: str = Field(description="The rule set in force: git commit, or sha256:<digest> outside git")
    since: datetime
    offered: str | None = Field(None, description="A newer set its files offer, not in force yet")
    offered_state: Literal["waiting", "refused"] | None = Field(
        None, description="waiting: loaded, until every live daemon has; refused: it or another daemon "
                          "cannot load it")
    problems: list[str] = Field(default_factory=list)


class RunOut(Output):
    id: str
    rule_id: str
    event_id: str | None
    status: str
    skip_reason: str | None
    dedupe_key: str | None
    held_until: datetime | None
    hold_reason: str | None = Field(None, description="Why a held run waits (quiet hours, mode queued)")
    ruleset_version: str | None = Field(
        None, description="Git commit (else sha256:...) of the rule set the run was planned under")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class StepOut(Output):
    id: str
    run_id: str
    position: int
    step_key: str | None
    action: str
    fallback_of: str | None
    params: dict[str, Any] = Field(default_factory=dict,
                                   description="The params as rendered when it ran, secrets masked")
    output: dict[str, Any] | None
    status: str
    attempts: int
    max_attempts: int
    last_error: str | None
    error_code: str | None
    hold_reason: str | None = Field(None, description="Why it waits: a delay, delay_until, quiet hours")
    not_before: datetime | None = None
    next_attempt_at: datetime | None
    not_before: datetime | None = None
    hold_reason: str | None = None
    params: dict[str, Any] = Field(default_factory=dict,
                                   description="as rendered for the call, secrets masked")
    created_at: datetime
    queued_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None


class ConditionOut(BaseModel):
    path: str = Field(description="Where the condition is in the rule: if, if[0], if.any[1]...")
    condition: str = Field(description="The CEL expression, or a block as 'any: [a, b]'")
    result: bool | None = Field(description="What it gave; null when it failed")
    error: str | None = None


class RunDetail(RunOut):
    conditions: list[ConditionOut] | None = Field(
        description="What the rule's condition gave, per top-level condition (empty without if:; "
                    "null for a run planned before runs kept their trace)")
    steps: list[StepOut] = Field(description="In rule order, each step followed by its fallbacks")


class NotificationOut(Output):
    id: str
    step_id: str | None
    customer_id: str | None
    channel: str
    recipient: str
    template: str | None
    subject: str | None
    status: str
    provider: str | None
    provider_id: str | None
    segments: int | None
    error_code: str | None
    error_message: str | None
    created_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None


class DeadLetterOut(Output):
    id: str
    step_id: str
    rule_id: str
    event_id: str | None
    action: str
    error: str
    error_code: str | None
    attempts: int
    created_at: datetime
    resolved_at: datetime | None
    resolution: str | None
    resolved_by: str | None
    handled_by: str | None = Field(None, description="the fallback step that succeeded in its place")
    params: dict[str, Any] = Field(default_factory=dict,
                                   description="as rendered for the call, secrets masked")


class RetriedOut(BaseModel):
    requeued_step_ids: list[str]


class DiscardedOut(BaseModel):
    discarded: int


class BackupOut(Output):
    id: str
    status: str
    location: str | None
    size_bytes: int | None
    sha256: str | None
    error: str | None
    started_at: datetime
    finished_at: datetime | None


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int
    scope: str
