"""Events read from files (dry-run, rule tests) meet the limits of every intake, located at their line."""

from __future__ import annotations

import json

import pytest

from engine.errors import EventInputError
from engine.language.event_input import MAX_DEPTH
from engine.language.events import parse_events


def nested(depth: int) -> dict:
    """An event whose data is ``depth`` levels deep below the event itself."""
    data: dict = {}
    node = data
    for _ in range(depth - 1):
        node["n"] = {}
        node = node["n"]
    return {"type": "a.b", "data": data}


def problems(text: str) -> list[str]:
    with pytest.raises(EventInputError) as caught:
        parse_events(text, "events.json")
    return [f"{p.file}:{p.line}: {p.path}: {p.message}" for p in caught.value.problems]


def test_an_event_at_the_depth_limit_is_read() -> None:
    [event] = parse_events(json.dumps(nested(MAX_DEPTH - 1)), "events.json")
    assert event.type == "a.b"


def test_a_900_deep_payload_is_refused_with_its_line_not_a_crash() -> None:
    lines = [json.dumps({"type": "a.b"}), json.dumps(nested(900))]
    [message] = problems("\n".join(lines))
    assert message.startswith("events.json:2: ")
    assert message.endswith(f"nested deeper than {MAX_DEPTH} levels")


def test_a_deep_yaml_events_file_is_refused_at_its_line() -> None:
    text = "- type: a.b\n  data:\n    x: " + "[" * 950 + "]" * 950 + "\n"
    [message] = problems(text)
    assert message.startswith("events.json:3:") and "nested deeper than" in message


def test_a_value_the_event_log_cannot_store_is_refused_naming_its_field() -> None:
    lines = [json.dumps({"type": "a.b"}), '{"type": "a.b", "data": {"amount": NaN}}']
    [message] = problems("\n".join(lines))
    assert message.startswith("events.json:2: data.amount: NaN is not a JSON number")
