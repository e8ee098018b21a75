"""Effects of actions on despacho's own records, keyed by the action's idempotency key."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlmodel import Field

from store.models.base import Record, timestamp


class ActionEffect(Record, table=True):
    """Written in the same transaction as the effect: a step run twice finds it and stops.

    The primary key is the lookup; no other index is needed.
    """

    __tablename__ = "action_effects"
    entity: ClassVar[str] = "action_effect"

    idempotency_key: str = Field(primary_key=True, max_length=300)
    action: str = Field(max_length=100)
    outputs: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON, nullable=False)
    created_at: datetime = timestamp(default_now=True)
