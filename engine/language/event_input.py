"""Events from outside (``POST /v1/events``, ``despacho emit``): one set of limits for every intake.

An event that the event log cannot store must be refused where it enters,
naming the field, and never reach a shared transaction: JSON's ``NaN`` and
``Infinity`` are not JSON (PostgreSQL refuses them), a NUL character cannot
be stored in PostgreSQL text, an unpaired surrogate cannot be encoded, and a
deeply nested document makes Python's parser overflow its stack. The size
limit is the API's ``api.max_body_bytes``, so the CLI takes what the API takes.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from engine.errors import EventInputError
from engine.language.events import Event
from engine.language.problems import Path, Problem

MAX_BYTES = 1_048_576
MAX_DEPTH = 64  # levels of objects and lists in one event, the event itself being the first
_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_SURROGATE = re.compile("[\ud800-\udfff]")
# What in JSON text can become a refused value: the NaN/Infinity tokens, numbers too big for a
# float (1e999 parses as inf), and the escapes of NUL and of surrogates (raw control characters
# and raw surrogates are not valid JSON text or UTF-8, so the parser refuses them itself).
_SUSPECT = re.compile(rb"NaN|Infinity|[eE][+-]?\d{3}|\d{300}|\\u(?:0000|[dD][89a-fA-F])")


@dataclass(frozen=True)
class Limits:
    max_bytes: int = MAX_BYTES
    max_depth: int = MAX_DEPTH


@dataclass(frozen=True)
class Flaw:
    """One refused value: where (from the input's root), why, and a stable kind for machines."""

    loc: Path
    message: str
    kind: str


class EventRefused(EventInputError):
    """The input breaks a limit or is not a valid event; ``flaws`` keep the structured locations."""

    def __init__(self, source: str, root: str, flaws: list[Flaw]) -> None:
        self.flaws = sorted(flaws, key=lambda f: (field_name(root, f.loc), f.message))  # as the problems
        self.root = root
        super().__init__([Problem(source, path=field_name(root, f.loc), message=f.message) for f in flaws])


def field_name(root: str, loc: Path) -> str:
    """``events[0].data.amount``; keys that are not plain words are quoted (``data["a b"]``)."""
    out = root
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _PLAIN_KEY.match(part):
            out += f".{part}" if out else part
        else:
            out += f"[{json.dumps(part)}]"
    return out


def parse_events(raw: bytes | str, limits: Limits = Limits(), source: str = "<request>") -> list[Event]:
    """One event or a list of them, from JSON text; raises ``EventRefused`` naming every bad field.

    A list's fields are named ``events[i]....``, a single event's ``event....``.
    """
    value = load_json(raw, limits, source, "body")
    root = "events" if isinstance(value, list) else "event"
    items = value if isinstance(value, list) else [value]
    flaws = [] if _surely_storable(raw, limits) else \
        [f for i, item in enumerate(items) for f in find_flaws(item, limits.max_depth, (i,))]
    if flaws:
        raise EventRefused(source, root, _unlisted(flaws, value))
    events, flaws = [], []
    for index, item in enumerate(items):
        try:
            events.append(Event.model_validate(item))
        except ValidationError as exc:
            flaws += [Flaw((index, *e["loc"]), e["msg"], e["type"]) for e in exc.errors(include_url=False)]
    if flaws:
        raise EventRefused(source, root, _unlisted(flaws, value))
    return events


def parse_payload(raw: bytes | str, limits: Limits = Limits(), source: str = "--data") -> dict[str, Any]:
    """An event's ``data`` from JSON text, under the same limits as a whole event (it starts a level down)."""
    value = load_json(raw, limits, source, "data")
    if not isinstance(value, dict):
        raise EventRefused(source, "data", [Flaw((), "must be a JSON object", "dict_type")])
    flaws = find_flaws(value, limits.max_depth, depth=2)
    if flaws:
        raise EventRefused(source, "data", flaws)
    return value


def load_json(raw: bytes | str, limits: Limits, source: str, root: str) -> Any:
    """JSON text to Python values, refusing oversized input and input nested past Python's stack."""
    size = len(raw) if isinstance(raw, bytes) else len(raw.encode("utf-8", "surrogatepass"))
    if size > limits.max_bytes:
        raise EventRefused(source, "", [Flaw((), f"{size} bytes; at most {limits.max_bytes} are accepted",
                                             "too_large")])
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        flaw = Flaw((), f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}", "json_invalid")
    except RecursionError:
        flaw = Flaw((), f"nested deeper than {limits.max_depth} levels", "too_deep")
    except (ValueError, UnicodeDecodeError) as exc:  # an integer of over 4,300 digits, bytes not UTF-8
        flaw = Flaw((), f"not JSON: {exc}", "json_invalid")
    raise EventRefused(source, root, [flaw])


def _surely_storable(raw: bytes | str, limits: Limits) -> bool:
    """A look at the text at C speed that lets most events skip the walk; a doubt means walking."""
    return (isinstance(raw, bytes) and raw.count(b"{") + raw.count(b"[") < limits.max_depth
            and _SUSPECT.search(raw) is None)


def find_flaws(value: Any, max_depth: int, loc: Path = (), depth: int = 1) -> list[Flaw]:
    """Values the event log cannot store, each with its location; iterative, so any depth is safe.

    ``depth`` is the level ``value`` sits at: 1 for an event, 2 for its ``data``.
    """
    flaws: list[Flaw] = []
    pending: list[tuple[Any, Path, int]] = [(value, loc, depth)]
    while pending:
        item, where, depth = pending.pop()
        if isinstance(item, str):
            _check_text(item, where, "text", flaws)
        elif isinstance(item, float):
            if not math.isfinite(item):
                flaws.append(Flaw(where, f"{_constant(item)} is not a JSON number; send a number, "
                                         "null or a string", "non_finite_number"))
        elif isinstance(item, dict | list):
            if depth > max_depth:
                flaws.append(Flaw(where, f"nested deeper than {max_depth} levels", "too_deep"))
                continue
            pairs = item.items() if isinstance(item, dict) else enumerate(item)
            for key, child in pairs:
                if isinstance(key, str):
                    _check_text(key, (*where, key), "key", flaws)
                pending.append((child, (*where, key), depth + 1))
    return flaws


def _check_text(text: str, where: Path, what: str, flaws: list[Flaw]) -> None:
    if "\x00" in text:
        flaws.append(Flaw(where, f"{what} with a NUL character (\\u0000), which cannot be stored",
                          "nul_character"))
    elif not text.isascii() and _SURROGATE.search(text):
        flaws.append(Flaw(where, f"{what} with an unpaired UTF-16 surrogate, which cannot be stored",
                          "lone_surrogate"))


def _constant(number: float) -> str:
    return "NaN" if math.isnan(number) else ("Infinity" if number > 0 else "-Infinity")


def _unlisted(flaws: list[Flaw], value: Any) -> list[Flaw]:
    # a single event was wrapped as item 0 to share the code: its fields start at the event
    return flaws if isinstance(value, list) else [Flaw(f.loc[1:], f.message, f.kind) for f in flaws]
