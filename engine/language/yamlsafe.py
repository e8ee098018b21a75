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
# An anchor or alias starts a token: "&name" / "*name" after a blank or a flow indicator.
_MAYBE_ANCHOR = re.compile(r"(?:^|[\s\[{,:?-])[&*][^\s,\[\]{}]", re.MULTILINE)

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


@dataclass
class Document:
    """Plain data read from one YAML file, with where each value stands."""

    file: str
    data: Any
    value_positions: dict[Path, tuple[int, int]] = field(default_factory=dict)
    key_positions: dict[Path, tuple[int, int]] = field(default_factory=dict)

    def position(self, path: Path, *, key: bool = False) -> tuple[int, int]:
        """The (line, column) of ``path`` or of its nearest located ancestor."""
        table = self.key_positions if key else self.value_positions
        probe = tuple(path)
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
    doc = Document(name, None)
    if node is None:
        return doc
    doc.data = _Builder(doc).build(node, ())
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

    def build(self, node: Node, path: Path) -> Any:
        value = self._value(node, path)
        if self.problems:
            raise YamlInputError(self.problems)
        return value

    def _fail(self, node: Node, path: Path, message: str, hint: str | None = None) -> None:
        mark = node.start_mark
        self.problems.append(Problem(self.doc.file, mark.line + 1, mark.column + 1,
                                     format_path(path), message, hint))

    def _value(self, node: Node, path: Path) -> Any:
        mark = node.start_mark
        self.doc.value_positions[path] = (mark.line + 1, mark.column + 1)
        if isinstance(node, MappingNode | SequenceNode):
            # A node met twice is an alias the pre-scan missed: never expand it.
            if id(node) in self.seen:
                self._fail(node, path, "YAML anchors and aliases are not allowed")
                return None
            self.seen.add(id(node))
        if isinstance(node, MappingNode):
            return self._mapping(node, path)
        if isinstance(node, SequenceNode):
            if str(node.tag) != f"{_CORE}seq":
                tag = _short_tag(str(node.tag))
                self._fail(node, path, f"unsupported YAML tag '{tag}'", "remove the tag")
                return None
            return [self._value(item, (*path, i)) for i, item in enumerate(node.value)]
        return self._scalar(node, path)

    def _mapping(self, node: MappingNode, path: Path) -> dict[str, Any]:
        if str(node.tag) != f"{_CORE}map":
            self._fail(node, path, f"unsupported YAML tag '{_short_tag(str(node.tag))}'", "remove the tag")
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode) or str(key_node.tag) == f"{_CORE}merge":
                self._fail(key_node, path, "keys must be plain strings (no merge keys or complex keys)")
                continue
            key = str(key_node.value)
            child = (*path, key)
            mark = key_node.start_mark
            if key in out:
                first = self.doc.key_positions[child]
                self._fail(key_node, child, f"duplicate key '{key}'",
                           f"first defined at line {first[0]}")
                continue
            self.doc.key_positions[child] = (mark.line + 1, mark.column + 1)
            out[key] = self._value(value_node, child)
        return out

    def _scalar(self, node: Node, path: Path) -> Any:
        tag = str(node.tag)
        if tag not in _SCALAR_TAGS:
            self._fail(node, path, f"unsupported YAML tag '{_short_tag(tag)}'",
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
            assert mark is not None  # the parser marks every event
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
