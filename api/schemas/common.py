"""Shared field types: text without control, bidi or zero-width characters, money, time zones, pages."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Generic, TypeVar
from zoneinfo import available_timezones

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

T = TypeVar("T")
_ZONES = frozenset(available_timezones())

# What text must not hold, and why. Controls (NUL, ESC...) break PostgreSQL text columns and
# terminals reading the logs; bidirectional overrides make a name or an order read, in an email or
# on a screen, differently from what is stored (the "Trojan Source" trick); zero-width characters
# make two names that look the same differ (a second "Ana Souza", an event id that looks taken).
_CONTROL = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
_LINE_BREAKS = "\t\n\r"
_BIDI = "\u202a-\u202e\u2066-\u2069"
_INVISIBLE = "\u200b\u2060\ufeff"
# ZWNJ and ZWJ join letters in some scripts and build emoji (a technician's "👩‍🔧" in a note):
# free text keeps them, names and identifiers do not
_JOINERS = "\u200c\u200d"
_FORBIDDEN_IN_LINE = re.compile(f"[{_CONTROL}{_LINE_BREAKS}{_BIDI}{_INVISIBLE}{_JOINERS}]")
_FORBIDDEN_IN_TEXT = re.compile(f"[{_CONTROL}{_BIDI}{_INVISIBLE}]")


def forbidden_character(value: str, *, multiline: bool = False) -> str | None:
    """Why ``value`` is refused (naming the first bad character), or ``None`` when it is clean."""
    found = (_FORBIDDEN_IN_TEXT if multiline else _FORBIDDEN_IN_LINE).search(value)
    if found is None:
        return None
    char = found.group()
    kind = ("a bidirectional override" if re.match(f"[{_BIDI}]", char)
            else "a zero-width character" if re.match(f"[{_INVISIBLE}{_JOINERS}]", char)
            else "a line break" if char in _LINE_BREAKS else "a control character")
    return f"{kind} (U+{ord(char):04X}) is not allowed here"


def _clean_line(value: str) -> str:
    problem = forbidden_character(value)
    if problem:
        raise ValueError(problem)
    return value


def _clean_text(value: str) -> str:
    problem = forbidden_character(value, multiline=True)
    if problem:
        raise ValueError(problem)
    return value


def _known_zone(value: str) -> str:
    if value not in _ZONES:
        raise ValueError(f"'{value}' is not an IANA time zone (e.g. America/Sao_Paulo)")
    return value


def text(max_length: int, min_length: int = 0, *, multiline: bool = False) -> type[str]:
    """A string field: one line (names, codes, addresses) unless ``multiline`` (descriptions, notes)."""
    return Annotated[str, StringConstraints(min_length=min_length, max_length=max_length,  # type: ignore[return-value]
                                            strip_whitespace=True),
                     AfterValidator(_clean_text if multiline else _clean_line)]


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
