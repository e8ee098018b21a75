"""The event catalogue: every event type rules can listen to, with a JSON Schema of its ``data``.

Three sources: the domain events despacho emits (``store.event_payloads``,
written to ``schemas/events/`` and ``docs/events.md`` by ``despacho schema``),
the types rule files declare under ``events:`` (posted by outside systems),
and the types rules emit with a literal ``event.emit`` (their ``data`` keys
become the schema). ``despacho validate`` reads an ``on:`` type or a
``data.*`` path nothing in here has as a warning.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from functools import cache, partial
from pathlib import Path as FsPath
from typing import Any

from engine.language.problems import did_you_mean
from store.event_payloads import DOMAIN_EVENTS, EventSpec

DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"
EVENTS_FOLDER = "events"
SCHEMA_SUFFIX = ".schema.json"


class EventType:
    """An event type, the JSON Schema of its ``data``, and who emits or declares it (as the admin reads it).

    A domain type's schema is built when first read: pydantic building the schemas of
    every domain payload was a tenth of ``despacho validate``, and a rule set reads few.
    """

    __slots__ = ("_schema", "origin", "type")

    def __init__(self, type: str, schema: dict[str, Any] | Callable[[], dict[str, Any]], origin: str) -> None:
        self.type = type
        self.origin = origin
        self._schema = schema

    @property
    def schema(self) -> dict[str, Any]:
        if callable(self._schema):
            self._schema = self._schema()
        return self._schema


class Catalogue:
    """Event types by name, and the ones an ``on:`` pattern (``invoice.*``) matches."""

    def __init__(self, types: Iterable[EventType]) -> None:
        self.types = {event.type: event for event in types}

    def matching(self, pattern: str) -> list[EventType]:
        if "*" not in pattern:
            found = self.types.get(pattern)
            return [found] if found else []
        wanted = pattern.split(".")
        return [event for name, event in sorted(self.types.items()) if _matches(wanted, name.split("."))]

    def names(self) -> list[str]:
        return sorted(self.types)

    def suggest(self, pattern: str) -> str | None:
        """A did-you-mean among the types sharing the first or the last word (difflib over every type
        costs half a millisecond; a set of 10,000 rules of outside types would pay it 10,000 times)."""
        words = pattern.split(".")
        near = [name for name in self.types
                if name.split(".")[0] == words[0] or name.split(".")[-1] == words[-1]]
        return did_you_mean(pattern, near) if near else None


def _matches(pattern: list[str], segments: list[str]) -> bool:
    return len(pattern) == len(segments) and all(
        p in ("*", s) for p, s in zip(pattern, segments, strict=True))


# The schemas of every domain event, as ``domain_schema`` builds them, shipped with the package:
# pydantic takes 30 ms to build the ones a rule set reads, a tenth of ``despacho validate``.
# ``despacho schema`` writes it and ``despacho schema --check`` fails when it is stale.
BUNDLE = FsPath(__file__).with_name("domain_event_schemas.json")


@cache
def domain_types() -> tuple[EventType, ...]:
    return tuple(EventType(spec.event_type, partial(_bundled_or_built, spec), f"despacho ({spec.producer})")
                 for spec in DOMAIN_EVENTS.values())


def _bundled_or_built(spec: EventSpec) -> dict[str, Any]:
    schema = _bundled().get(spec.event_type)
    return schema if isinstance(schema, dict) else domain_schema(spec)


@cache
def _bundled() -> dict[str, Any]:
    try:
        found = json.loads(BUNDLE.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # not shipped, or damaged: each schema is built instead
        return {}
    return found if isinstance(found, dict) else {}


def bundle_text() -> str:
    schemas = {spec.event_type: domain_schema(spec) for spec in DOMAIN_EVENTS.values()}
    return json.dumps(schemas, ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n"


def write_bundle(path: FsPath = BUNDLE) -> FsPath:
    path.write_text(bundle_text(), encoding="utf-8")
    return path


def bundle_is_stale(path: FsPath = BUNDLE) -> bool:
    return not path.is_file() or path.read_text(encoding="utf-8") != bundle_text()


def domain_schema(spec: EventSpec) -> dict[str, Any]:
    schema = _without_titles(spec.payload.model_json_schema(by_alias=True))
    return {"$schema": DRAFT_2020_12, "title": spec.event_type,
            "description": f"{spec.description}. Emitted by {spec.producer}.", **schema}


def _without_titles(node: Any) -> Any:
    """Pydantic titles every field after its name ('Message Sid'): noise in a schema people read."""
    if isinstance(node, dict):
        return {k: _without_titles(v) for k, v in node.items()
                if not (k == "title" and isinstance(v, str))}
    if isinstance(node, list):
        return [_without_titles(item) for item in node]
    return node


# --- schemas/events/ and docs/events.md -----------------------------------------------------------

def event_schema_files() -> dict[str, str]:
    """File name under ``schemas/events/`` -> its text."""
    return {f"{spec.event_type}{SCHEMA_SUFFIX}":
            json.dumps(domain_schema(spec), indent=2, ensure_ascii=False, sort_keys=True) + "\n"
            for spec in DOMAIN_EVENTS.values()}


def write_event_schemas(folder: FsPath) -> list[FsPath]:
    target = folder / EVENTS_FOLDER
    target.mkdir(parents=True, exist_ok=True)
    files = event_schema_files()
    for old in target.glob(f"*{SCHEMA_SUFFIX}"):
        if old.name not in files:
            old.unlink()  # a type no longer emitted
    written = []
    for name, text in files.items():
        (target / name).write_text(text, encoding="utf-8")
        written.append(target / name)
    return written


def stale_event_schemas(folder: FsPath) -> list[FsPath]:
    """Missing, different or left-over files under ``schemas/events/``."""
    target = folder / EVENTS_FOLDER
    files = event_schema_files()
    stale = [target / name for name, text in files.items()
             if not (target / name).is_file() or (target / name).read_text(encoding="utf-8") != text]
    if target.is_dir():
        stale.extend(sorted(p for p in target.glob(f"*{SCHEMA_SUFFIX}") if p.name not in files))
    return stale


def render_events_doc() -> str:
    lines = [
        "# Events",
        "",
        "<!-- Generated by `despacho schema` from store/event_payloads.py; `despacho schema --check` "
        "fails when this page is stale. Do not edit by hand. -->",
        "",
        "The events despacho itself emits, and the fields of their `data` (what conditions and",
        "templates read as `data.…`). The JSON Schema of each is in `schemas/events/<type>.schema.json`.",
        "A field marked *or null* is always present but may be empty: test it with `!= null`.",
        "",
        "Events posted by other systems (`POST /v1/events`, `despacho emit`) are declared in rule",
        "files under `events:` (see [rules.md](rules.md#event-types)); `despacho validate` warns about",
        "an `on:` type or a `data.` path that neither list has.",
        "",
        "| type | emitted by | when |",
        "|---|---|---|",
    ]
    lines += [f"| [`{s.event_type}`](#{s.event_type.replace('.', '')}) | `{s.producer}` | {s.description} |"
              for s in DOMAIN_EVENTS.values()]
    for spec in DOMAIN_EVENTS.values():
        schema = domain_schema(spec)
        lines += ["", f"## {spec.event_type}", "", f"{spec.description}. Emitted by `{spec.producer}`.", ""]
        if schema.get("additionalProperties") is not False:
            lines += ["Besides the fields below, it may carry others.", ""]
        lines += ["| field | type | notes |", "|---|---|---|"]
        lines += [f"| `{path}` | {kind} | {notes} |" for path, kind, notes in _fields(schema, schema, "data")]
    return "\n".join(lines) + "\n"


def _fields(root: Mapping[str, Any], node: Mapping[str, Any], prefix: str) -> list[tuple[str, str, str]]:
    rows = []
    for name, prop in node.get("properties", {}).items():
        path = f"{prefix}.{name}"
        target, nullable = _unwrap(root, prop)
        kind = _kind(target) + (" or null" if nullable else "")
        notes = str(prop.get("description", target.get("description", "")))
        rows.append((path, kind, notes.replace("|", "\\|")))
        if target.get("type") == "object" and "properties" in target:
            rows.extend(_fields(root, target, path))
    return rows


def _unwrap(root: Mapping[str, Any], prop: Mapping[str, Any]) -> tuple[Mapping[str, Any], bool]:
    options = prop.get("anyOf", [prop])
    nullable = any(option.get("type") == "null" for option in options)
    real = [option for option in options if option.get("type") != "null"] or [prop]
    target = real[0]
    ref = target.get("$ref")
    if isinstance(ref, str):
        target = root["$defs"][ref.rsplit("/", 1)[-1]]
    return target, nullable


def _kind(schema: Mapping[str, Any]) -> str:
    kind = str(schema.get("type", "any"))
    if schema.get("format") in ("date-time", "date"):
        return f"{kind} ({schema['format']})"
    if kind == "array":
        return f"list of {_kind(schema.get('items', {}))}"
    return kind
