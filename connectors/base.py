"""The connector interface: actions with params models, and the three verbs.

A connector declares its settings model and its actions (name ->
``ActionSpec``) and implements ``check()`` (connectivity, no side effects),
``plan()`` (what it *would* do, for dry-run) and ``execute()`` (the effect).
Failures raise ``TransientError`` or ``PermanentError``; they never return a
boolean. Delivery is at-least-once, so ``execute`` receives an idempotency
key per (rule, event, action) and must not repeat an effect it already made.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict

from errors import PermanentError, TransientError

if TYPE_CHECKING:
    from sqlmodel import Session  # the type only: importing connectors must not load the ORM

    from connectors.backup.backups import BackupSources
    from store.assignment import CalendarCheck
    from store.secrets import SecretBox

__all__ = [
    "FILE_OUTPUT",
    "ActionCall",
    "ActionSpec",
    "Connector",
    "ConnectorSettings",
    "OpenSettings",
    "Params",
    "PermanentError",
    "Runtime",
    "TransientError",
]


# the output naming a file an action wrote (``backup.run``'s ``path``); see ``ActionCall.files``
FILE_OUTPUT = "path"


class Params(BaseModel):
    """Base for every action's params: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ConnectorSettings(BaseModel):
    """Base for a connector's section under ``connectors:`` in the config."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    transport: str = "file"


class OpenSettings(ConnectorSettings):
    """Settings of connectors whose options arrive with their issues: any keys for now."""

    model_config = ConfigDict(extra="allow")


@dataclass(frozen=True)
class ActionSpec:
    """One action a rule can call: ``CONNECTOR.ACTION``.

    ``channel`` names the ``templates/<channel>/`` folder a ``template`` param
    refers to; ``outputs`` are the fields later steps may read as
    ``steps.<id>.<field>``; ``url_params`` name the params holding a URL the
    action will call, checked against ``connectors.http`` when their host is static;
    ``literal_params`` must be written out in the rule, never templated (``records.query``'s
    ``query``: event data must not choose what runs).
    """

    name: str
    params: type[Params]
    description: str
    channel: str | None = None
    outputs: tuple[str, ...] = field(default_factory=tuple)
    url_params: tuple[str, ...] = field(default_factory=tuple)
    literal_params: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class ActionCall:
    """Everything ``execute`` needs for one attempt of one step."""

    action: str
    params: Params
    idempotency_key: str
    message: dict[str, str] | None = None  # rendered template parts: subject, text, html
    step_id: str | None = None
    rule_id: str | None = None
    event_id: str | None = None
    # files earlier steps of the run produced (their FILE_OUTPUT); unlike paths taken from event data,
    # an email may attach these from the outbox folder
    files: frozenset[str] = frozenset()
    # when the event happened (tz-aware): what "today" means for the call, however late it runs
    event_at: datetime | None = None
    # one call of a ``for_each`` step: the item's key (``idempotency_key`` already includes it);
    # records kept per step (notifications) tell the step's calls apart by it
    item_key: str | None = None


@dataclass
class Runtime:
    """What connectors may use besides their settings: the database and the outbox folder.

    ``secrets`` opens the encrypted secrets store (OAuth refresh tokens), on first use only:
    loading its keys may create the key file. ``redis_url`` is set when the workers share a
    Redis (per-calendar and per-vendor rate limits across processes), with ``namespace``
    before every key.
    ``calendar_check`` tells which technicians Google Calendar shows busy (``order`` uses
    it; the calendar connector provides it through the composition root). ``backup_sources``
    names what ``backup.run`` copies.
    """

    outbox: Path
    session: Callable[[], AbstractContextManager[Session]] | None = None
    timezone: str = "America/Sao_Paulo"
    secrets: Callable[[], SecretBox] | None = None
    redis_url: str | None = None
    namespace: str = "despacho"
    calendar_check: CalendarCheck | None = None
    # what ``backup.run`` copies: the database URL, the rules, templates and config file
    backup_sources: BackupSources | None = None
    # ``api.public_url``: where the links despacho puts in messages point (unsubscribe)
    public_url: str | None = None


class Connector:
    """Base class; subclasses set ``name``, ``actions`` and ``settings_model``."""

    name: ClassVar[str]
    actions: ClassVar[dict[str, ActionSpec]]
    settings_model: ClassVar[type[ConnectorSettings]] = ConnectorSettings

    def __init__(self, settings: ConnectorSettings | None = None, runtime: Runtime | None = None) -> None:
        self.settings = settings if settings is not None else self.settings_model()
        self.runtime = runtime or Runtime(outbox=Path("var/outbox"))

    def check(self) -> dict[str, Any]:
        """Connectivity check with no side effects; raises a ``ConnectorError``."""
        return {"target": self.settings.transport, "detail": "nothing to check"}

    def plan(self, action: str, params: Params, message: dict[str, str] | None) -> dict[str, Any]:
        """What ``execute`` would do, for dry-run: no I/O, no side effects."""
        return {}

    def execute(self, call: ActionCall) -> dict[str, Any]:
        """Make the effect; return the outputs later steps read as ``steps.<id>``."""
        raise PermanentError(f"{self.name}.{call.action} cannot run on transport "
                             f"'{self.settings.transport}'", code="not_supported")
