"""Privacy requests and rights on the wire; the person travels in the body, never in the URL
(URLs end up in proxies' and servers' logs)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

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
