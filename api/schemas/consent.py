"""Marketing consent on the wire: one decision in with its proof, the state and history out."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from api.schemas.common import Input, Output, text
from store.consent import MAX_SOURCE, MAX_WORDING_VERSION

ConsentChannel = Literal["email", "sms", "whatsapp"]
Decision = Literal["granted", "withdrawn"]
Purpose = Literal["marketing"]


class ConsentIn(Input):
    channel: ConsentChannel
    decision: Decision
    source: text(MAX_SOURCE, 1) = Field(  # type: ignore[valid-type]
        description="How the customer decided: service_order:OS-123, whatsapp_optin:<message sid>, "
                    "website_form, phone_call, ...")
    wording_version: text(MAX_WORDING_VERSION, 1) | None = Field(  # type: ignore[valid-type]
        None, description="Version of the text the customer agreed to (or withdrew from)")
    purpose: Purpose = "marketing"


class ConsentRecordOut(Output):
    id: str
    channel: str
    purpose: str
    decision: str
    source: str
    wording_version: str | None
    actor: str | None = Field(description="Who recorded it")
    recorded_at: datetime


class ConsentStateOut(BaseModel):
    channel: str
    purpose: str
    granted: bool
    since: datetime | None = Field(description="When the decision in force was recorded; null: never asked")
    source: str | None
    wording_version: str | None


class ConsentOut(BaseModel):
    customer_id: str
    current: list[ConsentStateOut] = Field(description="One entry per channel: the latest decision")
    history: list[ConsentRecordOut] = Field(description="Every decision, oldest first: the proof")
