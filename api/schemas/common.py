"""Shared field types: text without control characters, money, time zones, pages."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Generic, TypeVar
from zoneinfo import available_timezones

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

T = TypeVar("T")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_ZONES = frozenset(available_timezones())


def _no_control_characters(value: str) -> str:
    # NUL and friends break PostgreSQL text columns and terminals reading the logs
    if _CONTROL.search(value):
        raise ValueError("control characters are not allowed")
    return value


def _known_zone(value: str) -> str:
    if value not in _ZONES:
        raise ValueError(f"'{value}' is not an IANA time zone (e.g. America/Sao_Paulo)")
    return value


def text(max_length: int, min_length: int = 0) -> type[str]:
    return Annotated[str, StringConstraints(min_length=min_length, max_length=max_length,  # type: ignore[return-value]
                                            strip_whitespace=True),
                     AfterValidator(_no_control_characters)]


Name = text(200, 1)
Short = text(100, 1)
TimeZone = Annotated[str, Field(max_length=64), AfterValidator(_known_zone)]
Amount = Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2)]
Skills = Annotated[list[text(100, 1)], Field(max_length=50)]  # type: ignore[valid-type]
Id = Annotated[str, Field(min_length=1, max_length=36, pattern=r"^[A-Za-z0-9_.:-]+$")]


class Input(BaseModel):
    """Unknown fields are errors, as in rule files: a typo must not pass silently."""

    model_config = ConfigDict(extra="forbid")


class Output(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page; null on the last")


class IdList(Input):
    ids: list[Id] = Field(min_length=1, max_length=500)
