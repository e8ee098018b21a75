"""A migrated SQLite project and an engine core driven by hand: every step runs when the test says."""

from __future__ import annotations

import json
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connectors.base import ActionCall, Connector
from engine.language.events import Event
from engine.runtime.compose import Core, build_core
from engine.settings import load_settings
from errors import PermanentError, TransientError
from store.migrate import upgrade

BACKUP = """
rules:
  - id: nightly
    on: ops.backup_due
    do:
      - backup.run: {}
        retry: {attempts: 3, backoff: fixed, delay: 1s}
        fallback:
          - sms.send: {to: "+5511987654321", body: "Backup falhou"}
"""


def make_project(root: Path, rules: str, connectors: dict[str, Any] | None = None) -> Path:
    """A migrated SQLite project; ``connectors`` adds settings (backup.run stays a plain action: no
    restic repository)."""
    (root / "rules").mkdir(parents=True, exist_ok=True)
    (root / "rules" / "r.yaml").write_text(textwrap.dedent(rules).lstrip(), encoding="utf-8")
    templates = root / "templates" / "sms"
    templates.mkdir(parents=True, exist_ok=True)
    (templates / "aviso.txt").write_text("Ola {{ data.name }}", encoding="utf-8")
    config = root / "config.yaml"
    config.write_text(textwrap.dedent(f"""
        rules: {{path: {root / 'rules'}}}
        templates: {{path: {root / 'templates'}}}
        outbox: {{path: {root / 'outbox'}}}
        database: {{url: "sqlite:///{root / 'despacho.db'}"}}
        broker: {{url: "stub://"}}
        connectors: {json.dumps({"backup": {"transport": "file"}, **(connectors or {})})}
    """), encoding="utf-8")
    upgrade(f"sqlite:///{root / 'despacho.db'}")
    return config


@dataclass
class Driver:
    """Runs an engine core synchronously: sent steps wait in ``sent`` until ``drain`` runs them."""

    core: Core
    sent: list[tuple[str, int]] = field(default_factory=list)

    def emit(self, event_type: str, event_id: str, **data: Any) -> None:
        self.core.accept([Event(type=event_type, id=event_id, data=data)])

    def drain(self) -> list[str | None]:
        """Relay every event and run every step sent without a delay, until nothing moves.

        Steps sent with a delay (backoff, ``delay:``, quiet hours) stay in ``sent``.
        """
        results = []
        while True:
            self.core.relay.relay_once()
            ready = [(s, d) for s, d in self.sent if d == 0]
            if not ready:
                return results
            for item in ready:
                self.sent.remove(item)
                results.append(self.core.runner.run_step(item[0]))


def run_retries_now(driver: Driver) -> None:
    """Make every queued retry due now and run it (instead of sleeping through the backoff)."""
    import sqlalchemy as sa
    from sqlmodel import Session, select

    from store.models.runs import RuleStep

    with Session(driver.core.db) as session:
        session.execute(sa.update(RuleStep).where(RuleStep.status == "queued").values(next_attempt_at=None))
        queued = [step.id for step in session.exec(select(RuleStep).where(RuleStep.status == "queued"))]
        session.commit()
    driver.sent[:] = [(step_id, 0) for step_id in queued]
    driver.drain()


def make_driver(config: Path) -> Driver:
    settings = load_settings(str(config), environ={})
    sent: list[tuple[str, int]] = []

    def send(step_ids: list[str], delay: int, urgent: bool = False) -> None:
        sent.extend((step_id, delay) for step_id in step_ids)

    core = build_core(settings, sender=send)
    return Driver(core, sent)


class ScriptedConnector(Connector):
    """Our own connector interface, failing as scripted: the seam the executor talks to."""

    name = "backup"
    actions = Connector.__dict__.get("actions", {})

    def __init__(self, script: list[Exception | None], base: Connector) -> None:
        super().__init__(base.settings, base.runtime)
        self.actions = base.actions
        self.script = list(script)
        self.calls: list[ActionCall] = []

    def execute(self, call: ActionCall) -> dict[str, Any]:
        self.calls.append(call)
        outcome = self.script.pop(0) if self.script else None
        if outcome is not None:
            raise outcome
        return {"backup_id": f"b{len(self.calls)}", "path": "/tmp/x", "size_bytes": 1}


def transient(message: str = "503 from the provider", retry_after: float | None = None) -> TransientError:
    return TransientError(message, retry_after=retry_after)


def permanent(message: str = "invalid number", code: str = "21211") -> PermanentError:
    return PermanentError(message, code=code)
