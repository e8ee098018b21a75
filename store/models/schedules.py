"""Schedule claims: which fire of which rule's schedule has been taken, kept apart from the event log.

A fire used to be claimed by storing the event ``<rule>@<fire time>``; any
client that may store events could then store that id first and cancel the
fire. Claims live here instead, a table only the scheduler writes: the
primary key ``(rule_id, fire_at)`` makes a second claim of the same fire a
no-op, and the latest ``fire_at`` of a rule is where catch-up starts.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from sqlmodel import Field

from store.models.base import Normalizer, Record, timestamp
from store.types import UTCDateTime
from store.validation import check_required


class ScheduleClaim(Record, table=True):
    """One fire of a rule's schedule, claimed once. Primary key: ``(rule_id, fire_at)``."""

    __tablename__ = "schedule_claims"
    entity: ClassVar[str] = "schedule_claim"
    normalizers: ClassVar[dict[str, Normalizer]] = {"rule_id": check_required}

    rule_id: str = Field(primary_key=True, max_length=200)
    fire_at: datetime = Field(primary_key=True, sa_type=UTCDateTime)
    claimed_at: datetime = timestamp(default_now=True)
