"""Exactly-once effects on our own records: look up, or record with the change."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from store.models.effects import ActionEffect


def recorded_outputs(session: Session, idempotency_key: str) -> dict[str, Any] | None:
    """The outputs of an effect already made under this key, or ``None``."""
    effect = session.get(ActionEffect, idempotency_key)
    return dict(effect.outputs) if effect is not None else None


def record_effect(session: Session, idempotency_key: str, action: str, outputs: dict[str, Any]) -> None:
    """Add the effect's record to the transaction that makes the effect."""
    session.add(ActionEffect(idempotency_key=idempotency_key, action=action, outputs=outputs))
