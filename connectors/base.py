"""The connector interface: actions with params models, and the three verbs.

A connector declares its actions (name -> ``ActionSpec``) and implements
``check()`` (connectivity, no side effects), ``plan()`` (what it *would* do,
for dry-run) and ``execute()`` (the effect). Failures raise
``TransientError`` or ``PermanentError``; they never return a boolean.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from connectors.errors import PermanentError, TransientError

__all__ = [
    "ActionSpec",
    "Connector",
    "Params",
    "PermanentError",
    "TransientError",
]


class Params(BaseModel):
    """Base for every action's params: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


@dataclass(frozen=True)
class ActionSpec:
    """One action a rule can call: ``CONNECTOR.ACTION``.

    ``channel`` names the ``templates/<channel>/`` folder a ``template`` param
    refers to; ``outputs`` are the fields later steps may read as
    ``steps.<id>.<field>``.
    """

    name: str
    params: type[Params]
    description: str
    channel: str | None = None
    outputs: tuple[str, ...] = field(default_factory=tuple)


class Connector:
    """Base class; subclasses set ``name`` and ``actions``."""

    name: ClassVar[str]
    actions: ClassVar[dict[str, ActionSpec]]

    def check(self) -> dict[str, Any]:
        """Connectivity check with no side effects; raises a ``ConnectorError``."""
        return {"target": "none", "detail": "nothing to check"}

    def plan(self, action: str, params: Params, message: dict[str, str] | None) -> dict[str, Any]:
        """What ``execute`` would do, for dry-run: no I/O, no side effects.

        ``message`` holds the rendered template parts (``subject``, ``text``,
        ``html``) when the action uses a template.
        """
        return {}

    def execute(self, action: str, params: Params, idempotency_key: str) -> dict[str, Any]:
        raise PermanentError(f"{self.name}.{action} has no executor yet", code="not_implemented")
