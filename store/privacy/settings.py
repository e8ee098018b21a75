"""``privacy`` in the config: how long each kind of record is kept, and how the purge runs.

Durations use the admins' notation (``30d``, ``52w``) plus ``y`` for years; a year counts
365.25 days rounded up, so ``5y`` (1827 days) is never shorter than five calendar years.
"""

from __future__ import annotations

import math
import re
from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from store.durations import parse_duration

_YEARS = re.compile(r"^\s*(\d+)\s*y\s*$")
# invoices and payments: 5 years (CTN art. 173 and 174; Decreto-Lei 486/1969 for the books)
FISCAL_MINIMUM = timedelta(days=1827)


def retention_duration(text: str) -> timedelta:
    """``2y``, ``730d``, ``52w``...; raises ``ValueError`` saying the accepted forms."""
    years = _YEARS.match(text)
    if years:
        days = math.ceil(int(years.group(1)) * 365.25)
        if days <= 0:
            raise ValueError(f"invalid duration '{text}': it must be longer than zero")
        return timedelta(days=days)
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise ValueError(f"{exc}; years are written as '2y'") from exc


class RetentionSettings(BaseModel):
    """How long each kind of record is kept before the daily purge deletes it."""

    model_config = ConfigDict(extra="forbid")

    messages: str = Field("2y", description="Notifications (emails, SMS, WhatsApp sent) and WhatsApp "
                                            "messages received")
    events: str = Field("1y", description="The event log (events still referenced by a kept run stay)")
    runs: str = Field("1y", description="Finished rule runs and their steps (not those with an "
                                        "unresolved dead letter)")
    dead_letters: str = Field("1y", description="Resolved dead letters (unresolved ones are kept)")
    audit: str = Field("5y", description="The audit log, access records included")
    accounting_audit: str = Field("5y", description="What was sent to and received from accounting "
                                                    "systems")
    invoices: str | None = Field(None, description="Settled or cancelled invoices and their payments; "
                                                   "none: never purged; at least 5y (tax law)")

    @field_validator("messages", "events", "runs", "dead_letters", "audit", "accounting_audit", "invoices")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is not None:
            retention_duration(value)
        return value

    @model_validator(mode="after")
    def _fiscal_minimum(self) -> RetentionSettings:
        if self.invoices is not None and retention_duration(self.invoices) < FISCAL_MINIMUM:
            raise ValueError(f"invoices: '{self.invoices}' is shorter than 5 years; tax law requires "
                             "invoices and payments to be kept 5 years (write 5y or more, or nothing)")
        return self

    def periods(self) -> dict[str, timedelta]:
        """Each policy that is set, as a duration."""
        values = self.model_dump()
        return {name: retention_duration(text) for name, text in values.items() if text is not None}


class PrivacySettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    purge_batch_size: int = Field(500, ge=1, le=10_000, description="Rows deleted per transaction: short "
                                  "transactions, so the pipeline's writes never wait long")
    purge_max_batches: int = Field(200, ge=1, description="Batches per kind of record in one purge; the "
                                   "rest waits for the next day's")
    purge_every: str = Field("1d", description="How often the leading scheduler purges")

    @field_validator("purge_every")
    @classmethod
    def _every(cls, value: str) -> str:
        parse_duration(value)
        return value
