"""Safe YAML 1.2 reading with positions kept in a side map.

Rule and config files are parsed by libyaml (PyYAML's C parser, about 18x
faster than a pure-Python parser on a 1,000-rule file) with a YAML 1.2
core-schema resolver, so ``on``, ``no`` and ``off`` stay strings (the
"Norway problem" of YAML 1.1 loaders). Its events become plain Python
values here. Anything that could surprise an admin or a server is
refused with a located problem: anchors and aliases (alias bombs), tags
other than the plain core ones (``!!python/...``), duplicate keys, several
documents in one file, files over 1 MiB and mappings or lists nested deeper
than ``MAX_DEPTH`` levels (the reader recurses once per level: a 950-deep file
overflowed Python's stack).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import Any

import yaml
from yaml.error import Mark
from yaml.events import (
    AliasEvent,
    CollectionEndEvent,
    CollectionStartEvent,
    Event,
    MappingEndEvent,
    MappingStartEvent,
    NodeEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from engine.errors import ProblemsError
from engine.language.problems import Path, Problem, Severity, format_path

MAX_FILE_BYTES = 1024 * 1024
MAX_DEPTH = 64  # levels of mappings and lists, the outermost being the first

_CORE = "tag:yaml.org,2002:"
_SCALAR_TAGS = {f"{_CORE}{name}" for name in ("str", "int", "float", "bool", "null")}
_STR, _SEQ, _MAP, _MERGE = (f"{_CORE}{name}" for name in ("str", "seq", "map", "merge"))

_BaseLoader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Yaml12Loader(_BaseLoader):  # type: ignore[misc]  # the base is chosen at run time (C or Python)
    """libyaml's parser with the YAML 1.2 core schema's implicit types."""

    yaml_implicit_resolvers: dict[str, Any] = {}  # noqa: RUF012 (PyYAML's own class attribute)


for _tag, _pattern, _first in (
    ("bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    ("int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789"),
    ("float", r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
              r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$", "-+0123456789."),
):
    _Yaml12Loader.add_implicit_resolver(f"{_CORE}{_tag}", re.compile(_pattern), list(_first))


class YamlInputError(ProblemsError):
    """A YAML file could not be read safely."""


EAGER_DEPTH = 3  # the file, its sections and their entries (every rule's line is asked for)


@dataclass
class Document:
    """Plain data read from one YAML file, with where each value stands.

    Positions live beside the data, never in it. Reading a file keeps those of the first
    ``EAGER_DEPTH`` levels; a deeper one is looked up when a problem names it, in the nodes of
    ``source`` composed again. Building a position for each of the 200,000 values of a
    10,000-rule set, for the few that problems ever name, cost as much as parsing the files
    (most of it the garbage collector walking the tuples). Documents made by hand (JSON lines, an
    absent config file) carry their positions in the two maps.
    """

    file: str
    data: Any
    value_positions: dict[Path, tuple[int, int]] = field(default_factory=dict)
    key_positions: dict[Path, tuple[int, int]] = field(default_factory=dict)
    source: str | None = field(default=None, repr=False)
    _root: Node | None = field(default=None, init=False, repr=False, compare=False)

    def position(self, path: Path, *, key: bool = False) -> tuple[int, int]:
        """The (line, column) of ``path`` or of its nearest located ancestor."""
        probe = tuple(path)
        if not key and probe in self.value_positions:
            return self.value_positions[probe]
        if self.source is not None:
            return self._position_in_nodes(probe, key=key)
        table = self.key_positions if key else self.value_positions
        while probe:
            if probe in table:
                return table[probe]
            if probe in self.value_positions:
                return self.value_positions[probe]
            probe = probe[:-1]
        return self.value_positions.get((), (1, 1))

    def problem(self, path: Path, message: str, hint: str | None = None, *,
                key: bool = False, severity: Severity = Severity.error) -> Problem:
        line, column = self.position(path, key=key)
        return Problem(self.file, line, column, format_path(path), message, hint, severity)

    def _position_in_nodes(self, path: Path, *, key: bool) -> tuple[int, int]:
        if self._root is None:
            self._root = _compose(self.source or "", self.file)
        node = self._root
        if node is None:
            return (1, 1)
        mark = node.start_mark
        for part in path:
            found = _child(node, part)
            if found is None:
                break
            key_node, node = found
            mark = key_node.start_mark if key and key_node is not None else node.start_mark
        return (mark.line + 1, mark.column + 1)


def _child(node: Node, part: str | int) -> tuple[Node | None, Node] | None:
    """The (key node, value node) under ``node`` at ``part``, as the reader took them."""
    if isinstance(node, MappingNode) and isinstance(part, str):
        for key_node, value_node in node.value:
            if isinstance(key_node, ScalarNode) and key_node.tag != _MERGE and str(key_node.value) == part:
                return key_node, value_node
    elif isinstance(node, SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
        return None, node.value[part]
    return None


def load_file(path: str | FsPath, *, display_name: str | None = None, max_depth: int = MAX_DEPTH) -> Document:
    """Read one YAML file; raises ``YamlInputError`` naming file, line and column."""
    name = display_name or str(path)
    fs_path = FsPath(path)
    try:
        size = fs_path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise YamlInputError([Problem(name, 0, 0, "", f"file is {size} bytes, over the 1 MiB limit",
                                          "split it into several files")])
        text = fs_path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise YamlInputError([Problem(name, 0, 0, "", f"not UTF-8 text: {exc.reason}")]) from exc
    except OSError as exc:
        raise YamlInputError([Problem(name, 0, 0, "", f"cannot read file: {exc.strerror}")]) from exc
    return load_text(text, name, max_depth=max_depth)


def load_text(text: str, name: str = "<input>", *, max_depth: int = MAX_DEPTH) -> Document:
    """Parse YAML text into a ``Document``; raises ``YamlInputError``."""
    if len(text.encode("utf-8")) > MAX_FILE_BYTES:
        raise YamlInputError([Problem(name, 0, 0, "", "input is over the 1 MiB limit")])
    return _Reader(text, name, max_depth).read()


# `key: {{ x }} more text`: YAML starts a flow mapping at `{` and then fails on the text after it
_UNQUOTED_TEMPLATE_LINE = re.compile(r"^\s*(?:-\s+)?([^\s:#'\"{][^:#]*?):\s+(\{\{.*\}\}.*?)\s*$")


def _quote_hint(text: str, line: int) -> str | None:
    """The fix for a syntax error on a line holding an unquoted template, else None."""
    lines = text.splitlines()[line - 2:line] if line > 1 else text.splitlines()[:1]
    for candidate in reversed(lines):
        match = _UNQUOTED_TEMPLATE_LINE.match(candidate[:300])
        if match:
            key, value = match.groups()
            quote = "'" if '"' in value else '"'
            return f"a template must be quoted: {key}: {quote}{value}{quote}"
    return None


def _compose(text: str, name: str) -> Node | None:
    """The node tree of a document that read cleanly (positions are looked up in it)."""
    with _syntax_errors(name, text):
        return yaml.compose(text, Loader=_Yaml12Loader)


@contextmanager
def _syntax_errors(name: str, text: str = "") -> Iterator[None]:
    try:
        yield
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        message = " ".join(str(p) for p in (exc.context, exc.problem) if p)
        problem = Problem(name, line, column, "", f"YAML syntax error: {message}", _quote_hint(text, line))
        raise YamlInputError([problem]) from exc
    except yaml.YAMLError as exc:
        raise YamlInputError([Problem(name, 0, 0, "", f"YAML error: {exc}")]) from exc


class _Reader:
    """Builds plain values straight from libyaml's event stream, collecting every problem.

    No node tree is composed: each event is dropped as soon as it is read, so a 1,000-rule
    file never holds 100,000 nodes and marks for the garbage collector to walk (that walk
    cost more than the parse). Anchors and aliases are seen as events and never expanded.
    Problems keep their precedence: a syntax error alone, else anchors and aliases, else
    several documents, else everything else.
    """

    def __init__(self, text: str, name: str, max_depth: int = MAX_DEPTH) -> None:
        self.doc = Document(name, None, source=text)
        self.max_depth = max_depth
        self.loader = _Yaml12Loader(text)
        self.next_event = self.loader.get_event
        self.resolve = self.loader.resolve
        self.anchors: list[Problem] = []
        self.problems: list[Problem] = []
        self.path: list[str | int] = []  # where the value being built stands

    def read(self) -> Document:
        try:
            with _syntax_errors(self.doc.file, self.doc.source or ""):
                second = self._documents()
        finally:
            self.loader.dispose()
        if self.anchors:
            raise YamlInputError(self.anchors)
        if second is not None:
            raise YamlInputError([Problem(self.doc.file, second.line + 1, second.column + 1, "",
                                          "a file holds one YAML document, found several",
                                          "remove the '---' separator or split the file")])
        if self.problems:
            raise YamlInputError(self.problems)
        return self.doc

    def _documents(self) -> Mark | None:
        """Build the first document; the start of the second one, if any."""
        second = None
        self.next_event()  # stream start
        documents = 0
        while not isinstance(self.next_event(), StreamEndEvent):  # a document start
            root = self.next_event()
            if documents == 0:
                self.doc.data = self._value(root)
            else:
                second = second or root.start_mark
                self._skip(root)
            self.next_event()  # document end
            documents += 1
        return second

    def _fail(self, event: Event, message: str, hint: str | None = None, *,
              at: Path | None = None) -> None:
        line, column = _where(event)
        path = tuple(self.path) if at is None else at
        self.problems.append(Problem(self.doc.file, line, column, format_path(path), message, hint))

    def _anchor(self, event: Event) -> None:
        line, column = _where(event)
        self.anchors.append(Problem(self.doc.file, line, column, "",
                                    "YAML anchors and aliases are not allowed",
                                    "repeat the value instead; aliases can hide huge expansions"))

    def _value(self, event: Event) -> Any:
        if len(self.path) < EAGER_DEPTH:
            self.doc.value_positions[tuple(self.path)] = _where(event)
        kind = type(event)
        if kind is AliasEvent:
            self._anchor(event)
            return None
        if event.anchor:  # type: ignore[attr-defined]  # every node event has one
            self._anchor(event)
        if kind is ScalarEvent:
            return self._scalar(event)  # type: ignore[arg-type]  # checked above
        if len(self.path) >= self.max_depth:
            self._fail(event, f"nested deeper than {self.max_depth} levels", "flatten the structure")
            self._skip(event, refused=bool(event.anchor))  # type: ignore[attr-defined]  # as above
            return None
        if kind is MappingStartEvent:
            return self._mapping(event)  # type: ignore[arg-type]  # checked above
        return self._sequence(event)  # type: ignore[arg-type]  # the only node event left

    def _sequence(self, start: SequenceStartEvent) -> list[Any] | None:
        if self._tag(start, SequenceNode) != _SEQ:
            self._fail(start, f"unsupported YAML tag '{_short_tag(str(start.tag))}'", "remove the tag")
            self._skip(start, refused=True)
            return None
        items: list[Any] = []
        path = self.path
        event = self.next_event()
        while not isinstance(event, SequenceEndEvent):
            path.append(len(items))
            items.append(self._value(event))
            path.pop()
            event = self.next_event()
        return items

    def _mapping(self, start: MappingStartEvent) -> dict[str, Any] | None:
        if start.flow_style and self._unquoted_template(start):
            return None
        tag = self._tag(start, MappingNode)
        if tag != _MAP:
            self._fail(start, f"unsupported YAML tag '{_short_tag(tag)}'", "remove the tag")
        out: dict[str, Any] = {}
        lines: dict[str, int] = {}  # where each key was first seen, for duplicates
        path = self.path
        event = self.next_event()
        while not isinstance(event, MappingEndEvent):
            key_event = event
            if isinstance(key_event, ScalarEvent):
                if key_event.anchor:
                    self._anchor(key_event)
                plain = self._tag(key_event, ScalarNode) != _MERGE
            else:
                self._skip(key_event)
                plain = False
            if not plain:
                self._fail(key_event, "keys must be plain strings (no merge keys or complex keys)")
                self._skip(self.next_event())
            elif (key := key_event.value) in lines:
                self._fail(key_event, f"duplicate key '{key}'", f"first defined at line {lines[key]}",
                           at=(*path, key))
                self._skip(self.next_event())
            else:
                lines[key] = key_event.start_mark.line + 1
                path.append(key)
                out[key] = self._value(self.next_event())
                path.pop()
            event = self.next_event()
        return out

    def _unquoted_template(self, start: MappingStartEvent) -> bool:
        """``key: {{ x }}`` is a flow mapping to YAML: say to quote it, not that keys must be plain."""
        mark = start.start_mark
        source = self.doc.source or ""
        if mark is None or source[mark.index:mark.index + 2] != "{{":
            return False
        line_end = source.find("\n", mark.index)
        text = source[mark.index:line_end if line_end != -1 else None]
        end = text.find("}}")
        snippet = text[:end + 2] if 0 < end < 120 else "{{ ... }}"
        quote = "'" if '"' in snippet else '"'
        last = self.path[-1] if self.path else "key"
        written = "-" if isinstance(last, int) else f"{last}:"
        self._fail(start, "a template must be quoted: YAML reads an unquoted {{ ... }} as a mapping",
                   f"quote it: {written} {quote}{snippet}{quote}")
        self._skip(start)
        return True

    def _scalar(self, event: ScalarEvent) -> Any:
        tag = self._tag(event, ScalarNode)
        if tag == _STR:
            return event.value
        if tag not in _SCALAR_TAGS:
            self._fail(event, f"unsupported YAML tag '{_short_tag(tag)}'",
                       "only plain values are allowed: remove the tag")
            return None
        return _convert_scalar(tag.removeprefix(_CORE), event.value)

    def _tag(self, event: NodeEvent, kind: type[Node]) -> str:
        """The event's tag, resolved the way libyaml's composer resolves a node's."""
        tag = event.tag  # type: ignore[attr-defined]  # scalar and collection start events have one
        if tag is None or tag == "!":
            value = event.value if isinstance(event, ScalarEvent) else None
            return str(self.resolve(kind, value, event.implicit))  # type: ignore[attr-defined]  # as above
        return str(tag)

    def _skip(self, event: Event, *, refused: bool = False) -> None:
        """Read past one value, still refusing its anchors and aliases (``refused``: its own already)."""
        depth = 0
        while True:
            if isinstance(event, NodeEvent) and event.anchor and not refused:
                self._anchor(event)
            refused = False
            if isinstance(event, CollectionStartEvent):
                depth += 1
            elif isinstance(event, CollectionEndEvent):
                depth -= 1
            if depth == 0:
                return
            event = self.next_event()


def _short_tag(tag: str) -> str:
    return tag.replace(_CORE, "!!")


def _where(event: Event) -> tuple[int, int]:
    """An event's line and column, from 1."""
    mark = event.start_mark
    assert mark is not None  # the parser marks every event
    return mark.line + 1, mark.column + 1


def _convert_scalar(kind: str, raw: str) -> Any:
    if kind == "null":
        return None
    if kind == "bool":
        return raw.lower() == "true"
    if kind == "int":
        return _to_int(raw)
    if kind == "float":
        lowered = raw.lower().lstrip("+")
        specials = {".inf": float("inf"), "-.inf": float("-inf"), ".nan": float("nan")}
        return specials.get(lowered) if lowered in specials else float(raw.replace("_", ""))
    return raw


def _to_int(raw: str) -> int:
    text = raw.replace("_", "")
    sign = -1 if text.startswith("-") else 1
    text = text.lstrip("+-")
    for prefix, base in (("0x", 16), ("0o", 8), ("0b", 2)):
        if text.lower().startswith(prefix):
            return sign * int(text[2:], base)
    return sign * int(text)
