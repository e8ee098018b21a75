"""Privacy requests and rights on the wire; the person travels in the body, never in the URL
(URLs end up in proxies' and servers' logs)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, Field

from api.schemas.common import Id, Input, text

RequestKind = Literal["export", "correct", "anonymise", "processors", "access"]
Person = text(254, 1)


class SubjectIn(Input):
    person: Person = Field(description="Customer id, phone, email or CPF/CNPJ")  # type: ignore[valid-type]
    request_id: Id | None = Field(None, description="Close this open request; else one is recorded as done")


class RequestIn(Input):
    kind: RequestKind
    person: Person = Field(description="Customer id, phone, email or CPF/CNPJ")  # type: ignore[valid-type]
    notes: text(2000, multiline=True) | None = None  # type: ignore[valid-type]


class RefuseIn(Input):
    reason: text(2000, 1, multiline=True)  # type: ignore[valid-type]


class CorrectIn(SubjectIn):
    set: dict[text(30, 1), text(300) | None] = Field(  # type: ignore[valid-type]
        min_length=1, max_length=10, description="field: new value (null clears an optional field)")


class AnonymiseIn(SubjectIn):
    force: bool = Field(False, description="Even with open service orders (their address is lost)")


class RequestOut(BaseModel):
    id: str
    kind: str
    customer_id: str | None
    requested_at: str
    deadline: str
    status: str
    overdue: bool
    requested_by: str
    notes: str | None
    details: dict[str, Any]
    closed_at: str | None


class RequestList(BaseModel):
    requests: list[RequestOut]


class Served(BaseModel):
    customer_id: str
    request: str = Field(description="The request this served (now done)")
    result: dict[str, Any]


# --- incidents (the register of ``despacho privacy incident``) ---------------------------------

Risk = Literal["low", "medium", "high"]
Category = text(100, 1)


class IncidentIn(Input):
    summary: text(2000, 1, multiline=True) = Field(description="What happened")  # type: ignore[valid-type]
    detected_at: AwareDatetime | None = Field(
        None, description="When the company learned of it (default: now); the notice deadline counts from it")
    occurred_at: AwareDatetime | None = None
    data_categories: list[Category] = Field(default_factory=list, max_length=30,  # type: ignore[valid-type]
                                            description="name, phone, cpf, address...")
    subjects_affected: int = Field(0, ge=0, le=1_000_000_000, description="Estimate")
    risk: Risk = "medium"
    measures: text(4000, multiline=True) | None = None  # type: ignore[valid-type]


class IncidentPatch(Input):
    """Only the fields sent change: notices sent, measures taken, closing."""

    summary: text(2000, 1, multiline=True) = None  # type: ignore[valid-type,assignment]
    occurred_at: AwareDatetime | None = None
    anpd_notified_at: AwareDatetime | None = None
    subjects_notified_at: AwareDatetime | None = None
    data_categories: list[Category] = Field(None, max_length=30)  # type: ignore[valid-type,assignment]
    subjects_affected: int = Field(None, ge=0, le=1_000_000_000)  # type: ignore[assignment]
    risk: Risk = None  # type: ignore[assignment]
    measures: text(4000, multiline=True) | None = None  # type: ignore[valid-type]
    status: Literal["open", "closed"] = None  # type: ignore[assignment]


class IncidentOut(BaseModel):
    id: str
    summary: str
    status: str
    risk: str
    occurred_at: str | None
    detected_at: str
    deadline: str = Field(description="Notice to the ANPD and the subjects due by this day (3 business days)")
    overdue: bool
    data_categories: list[str]
    subjects_affected: int
    measures: str | None
    anpd_notified_at: str | None
    subjects_notified_at: str | None
    recorded_by: str


class IncidentList(BaseModel):
    incidents: list[IncidentOut]
