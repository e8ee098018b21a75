"""Fixtures: a migrated SQLite database, a runtime around it, a CA for the SMTP servers."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
import trustme

from connectors.base import ActionCall, Params, Runtime
from store.db import make_engine, session_scope
from store.models import RuleRun, RuleStep


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def engine(migrated_template: Path, tmp_path: Path) -> Iterator[sa.Engine]:
    path = tmp_path / "despacho.db"
    shutil.copy(migrated_template, path)
    engine = make_engine(f"sqlite:///{path}")
    yield engine
    engine.dispose()


@pytest.fixture
def runtime(engine: sa.Engine, tmp_path: Path) -> Runtime:
    """With the database: notification rows, opt-outs, the WhatsApp window."""
    return Runtime(outbox=tmp_path / "outbox", session=lambda: session_scope(engine))


@pytest.fixture
def bare_runtime(tmp_path: Path) -> Runtime:
    """Without a database, as a connector runs from a plain script."""
    return Runtime(outbox=tmp_path / "outbox")


@pytest.fixture
def make_step(engine: sa.Engine) -> Callable[[str, str], RuleStep]:
    """A run and step row, as the planner makes them, owning an idempotency key."""
    def make(action: str, key: str) -> RuleStep:
        with session_scope(engine) as s:
            run = RuleRun(rule_id="test-rule")
            s.add(run)
            s.flush()
            step = RuleStep(run_id=run.id, action=action, idempotency_key=key)
            s.add(step)
        return step
    return make


def call(action: str, params: Params, key: str = "rule:event:0", *, message: dict[str, str] | None = None,
         step_id: str | None = None) -> ActionCall:
    return ActionCall(action=action, params=params, idempotency_key=key, message=message, step_id=step_id)
