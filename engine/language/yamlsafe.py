"""Safe YAML 1.2 reading with positions kept in a side map.

Rule and config files are composed into nodes by libyaml (PyYAML's C
parser, about 18x faster than a pure-Python parser on a 1,000-rule file)
with a YAML 1.2 core-schema resolver, so ``on``, ``no`` and ``off`` stay
strings (the "Norway problem" of YAML 1.1 loaders). Nodes become plain
Python values here. Anything that could surprise an admin or a server is
refused with a located problem: anchors and aliases (alias bombs), tags
other than the plain core ones (``!!python/...``), duplicate keys, several
documents in one file and files over 1 MiB.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import Any

import yaml
from yaml.events import AliasEvent, NodeEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from engine.errors import ProblemsError
from engine.language.problems import Path, Problem, format_path

MAX_FILE_BYTES = 1024 * 1024

_CORE = "tag:yaml.org,2002:"
_SCALAR_TAGS = {f"{_CORE}{name}" for name in ("str", "int", "float", "bool", "null")}
_STR, _SEQ, _MAP, _MERGE = (f"{_CORE}{name}" for name in ("str", "seq", "map", "merge"))
# An anchor or alias starts a token: "&name" / "*name" after a blank or a flow indicator.
_MAYBE_ANCHOR = re.compile(r"(?:^|[\s\[{,:?-])[&*][^\s,\[\]{}]", re.MULTILINE)

_BaseLoader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Yaml12Loader(_BaseLoader):  # type: ignore[misc, valid-type]
    """libyaml's parser with the YAML 1.2 core schema's implicit types."""

    yaml_implicit_resolvers: dict = {}  # noqa: RUF012 (PyYAML's own class attribute)


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
                key: bool = False) -> Problem:
        line, column = self.position(path, key=key)
        return Problem(self.file, line, column, format_path(path), message, hint)

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
    """The (key node, value node) under ``node`` at ``part``, as the builder read them."""
    if isinstance(node, MappingNode) and isinstance(part, str):
        for key_node, value_node in node.value:
            if isinstance(key_node, ScalarNode) and key_node.tag != _MERGE and str(key_node.value) == part:
                return key_node, value_node
    elif isinstance(node, SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
        return None, node.value[part]
    return None


def load_file(path: str | FsPath, *, display_name: str | None = None) -> Document:
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
    return load_text(text, name)


def load_text(text: str, name: str = "<input>") -> Document:
    """Parse YAML text into a ``Document``; raises ``YamlInputError``."""
    if len(text.encode("utf-8")) > MAX_FILE_BYTES:
        raise YamlInputError([Problem(name, 0, 0, "", "input is over the 1 MiB limit")])
    node = _compose(text, name)
    doc = Document(name, None, source=text)
    if node is None:
        return doc
    doc.data = _Builder(doc).build(node)
    return doc


def _compose(text: str, name: str) -> Node | None:
    try:
        if _MAYBE_ANCHOR.search(text):
            _refuse_anchors(text, name)
        nodes = list(yaml.compose_all(text, Loader=_Yaml12Loader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        message = " ".join(str(p) for p in (exc.context, exc.problem) if p)
        raise YamlInputError([Problem(name, line, column, "", f"YAML syntax error: {message}")]) from exc
    except yaml.YAMLError as exc:
        raise YamlInputError([Problem(name, 0, 0, "", f"YAML error: {exc}")]) from exc
    if len(nodes) > 1:
        mark = nodes[1].start_mark
        raise YamlInputError([Problem(name, mark.line + 1, mark.column + 1, "",
                                      "a file holds one YAML document, found several",
                                      "remove the '---' separator or split the file")])
    return nodes[0] if nodes else None


class _Builder:
    """Turns composed nodes into plain values, collecting every problem."""

    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.problems: list[Problem] = []
        self.seen: set[int] = set()
        self.path: list[str | int] = []  # where the node being built stands

    def build(self, node: Node) -> Any:
        value = self._value(node)
        if self.problems:
            raise YamlInputError(self.problems)
        return value

    def _fail(self, node: Node, message: str, hint: str | None = None, *, at: Path | None = None) -> None:
        mark = node.start_mark
        path = tuple(self.path) if at is None else at
        self.problems.append(Problem(self.doc.file, mark.line + 1, mark.column + 1,
                                     format_path(path), message, hint))

    def _value(self, node: Node) -> Any:
        if len(self.path) < EAGER_DEPTH:
            mark = node.start_mark
            self.doc.value_positions[tuple(self.path)] = (mark.line + 1, mark.column + 1)
        if isinstance(node, ScalarNode):
            return self._scalar(node)
        # A node met twice is an alias the pre-scan missed: never expand it.
        if id(node) in self.seen:
            self._fail(node, "YAML anchors and aliases are not allowed")
            return None
        self.seen.add(id(node))
        if isinstance(node, MappingNode):
            return self._mapping(node)
        if node.tag != _SEQ:
            self._fail(node, f"unsupported YAML tag '{_short_tag(str(node.tag))}'", "remove the tag")
            return None
        path = self.path
        items = []
        for index, item in enumerate(node.value):
            path.append(index)
            items.append(self._value(item))
            path.pop()
        return items

    def _mapping(self, node: MappingNode) -> dict[str, Any]:
        if node.tag != _MAP:
            self._fail(node, f"unsupported YAML tag '{_short_tag(str(node.tag))}'", "remove the tag")
        out: dict[str, Any] = {}
        path = self.path
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode) or key_node.tag == _MERGE:
                self._fail(key_node, "keys must be plain strings (no merge keys or complex keys)")
                continue
            key = str(key_node.value)
            if key in out:
                self._duplicate(node, key_node, key)
                continue
            path.append(key)
            out[key] = self._value(value_node)
            path.pop()
        return out

    def _duplicate(self, mapping: MappingNode, key_node: Node, key: str) -> None:
        found = _child(mapping, key)  # the first key of that name
        first = found[0] if found and found[0] else key_node
        self._fail(key_node, f"duplicate key '{key}'", f"first defined at line {first.start_mark.line + 1}",
                   at=(*self.path, key))

    def _scalar(self, node: ScalarNode) -> Any:
        tag = node.tag
        if tag == _STR:
            return node.value
        if tag not in _SCALAR_TAGS:
            self._fail(node, f"unsupported YAML tag '{_short_tag(str(tag))}'",
                       "only plain values are allowed: remove the tag")
            return None
        return _convert_scalar(tag.removeprefix(_CORE), node.value)


def _short_tag(tag: str) -> str:
    return tag.replace(_CORE, "!!")


def _refuse_anchors(text: str, name: str) -> None:
    """Anchors and aliases are found in the event stream, before anything is composed."""
    problems = []
    for event in yaml.parse(text, Loader=_Yaml12Loader):
        if isinstance(event, AliasEvent | NodeEvent) and getattr(event, "anchor", None):
            mark = event.start_mark
            problems.append(Problem(name, mark.line + 1, mark.column + 1, "",
                                    "YAML anchors and aliases are not allowed",
                                    "repeat the value instead; aliases can hide huge expansions"))
    if problems:
        raise YamlInputError(problems)


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
