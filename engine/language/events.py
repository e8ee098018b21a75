"""Events as the engine sees them, and reading them from files for dry-run and tests.

Events read from files meet the limits of every other intake (``event_input``: depth,
size, values the event log could not store), each refusal located at its line.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path as FsPath
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from engine.errors import EventInputError
from engine.language.problems import Problem
from engine.language.validation import problems_from_validation_error
from engine.language.yamlsafe import Document, YamlInputError, load_text
from store.types import random_uuid

if TYPE_CHECKING:
    from engine.language.event_input import Limits

EVENT_TYPE_PATTERN = r"^[a-z0-9_]+(\.[a-z0-9_]+)*$"


class Event(BaseModel):
    """Something that happened: the input of every rule evaluation."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # the lengths are the event log's columns: longer values would fail the shared commit
    type: str = Field(pattern=EVENT_TYPE_PATTERN, max_length=100, description="e.g. service_order.assigned")
    id: str = Field(default_factory=lambda: random_uuid().hex, min_length=1, max_length=200)
    at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    source: str = Field("cli", max_length=100)
    data: dict[str, Any] = Field(default_factory=dict)

    @field_validator("at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        # A naive time is taken as UTC: every stored time is UTC.
        return value if value.tzinfo else value.replace(tzinfo=UTC)

    def header(self) -> dict[str, Any]:
        """What conditions and templates see as ``event``."""
        return {"type": self.type, "id": self.id, "at": self.at, "source": self.source}


def read_events(source: str) -> list[Event]:
    """Events from a file path or ``-`` (stdin): one event, a list, or JSON lines."""
    name = "<stdin>" if source == "-" else source
    try:
        text = sys.stdin.read() if source == "-" else FsPath(source).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise EventInputError([Problem(name, message=f"cannot read events: {exc}")]) from exc
    return parse_events(text, name)


def parse_events(text: str, name: str) -> list[Event]:
    items = _json_lines(text, name)
    if items is not None:
        return [_event(doc, ()) for doc in items]
    try:
        # one level more than an event may have: the file may hold a list of events
        doc = load_text(text, name, max_depth=_limits().max_depth + 1)
    except YamlInputError as exc:
        raise EventInputError(exc.problems) from exc
    if isinstance(doc.data, list):
        problems: list[Problem] = []
        events = []
        for index in range(len(doc.data)):
            try:
                events.append(_event(doc, (index,)))
            except EventInputError as exc:
                problems.extend(exc.problems)
        if problems:
            raise EventInputError(problems)
        return events
    if isinstance(doc.data, dict):
        return [_event(doc, ())]
    raise EventInputError([Problem(name, 1, 1, "", "expected an event, a list of events or JSON lines")])


def _json_lines(text: str, name: str) -> list[Document] | None:
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) < 2 or not all(line.lstrip().startswith("{") for line in lines):
        return None
    docs = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        if len(line.encode("utf-8", "surrogatepass")) > _limits().max_bytes:
            raise EventInputError([Problem(name, number, 1, "", f"event over {_limits().max_bytes} bytes")])
        try:
            value = json.loads(line)
        except json.JSONDecodeError:
            return None  # not JSON lines after all: maybe YAML flow mappings
        except RecursionError as exc:  # nested past Python's stack
            raise EventInputError([Problem(name, number, 1, "", "nested too deeply")]) from exc
        docs.append(Document(name, value, {(): (number, 1)}))
    return docs


def _limits() -> Limits:
    from engine.language.event_input import Limits

    return Limits()


def _event(doc: Document, path: tuple[str | int, ...]) -> Event:
    from engine.language.event_input import find_flaws

    raw = doc.data
    for part in path:
        raw = raw[part]
    flaws = find_flaws(raw, _limits().max_depth)
    if flaws:
        raise EventInputError([doc.problem((*path, *flaw.loc), flaw.message) for flaw in flaws])
    try:
        return Event.model_validate(raw)
    except ValidationError as exc:
        vocabulary = list(Event.model_fields)
        raise EventInputError(problems_from_validation_error(exc, doc, path, vocabulary)) from exc
