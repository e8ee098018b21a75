"""The dotted paths a condition or a template reads under ``data`` and ``steps``.

``despacho validate`` checks ``data.x.y`` against the event catalogue and
``steps.<id>.<output>`` against the outputs the action declares. CEL has no
AST in its Python binding, so conditions are scanned with their string
literals blanked; templates are walked on Jinja's AST. A trailing method
call (``data.tags.size()``, ``data.name.upper()``) is not a field.
"""

from __future__ import annotations

import re
from functools import lru_cache

from jinja2 import Environment, TemplateSyntaxError, nodes

from engine.language.cel_limits import _without_strings
from engine.language.templating import _KEYWORDS, _SIMPLE_TEMPLATE, _SUBSTITUTION

ROOTS = frozenset({"data", "steps"})
_CEL_PATH = re.compile(r"(?<![\w.])(data|steps)\b((?:\s*\.\s*[A-Za-z_]\w*)*)")
_SEGMENT = re.compile(r"[A-Za-z_]\w*")
_PARSER = Environment()  # parsing only: filters and tests are not looked up until compile

DataPath = tuple[str, ...]  # ("data", "customer", "phone")


@lru_cache(maxsize=16384)
def cel_paths(expression: str) -> tuple[DataPath, ...]:
    code = _without_strings(expression)
    found = []
    for match in _CEL_PATH.finditer(code):
        parts = _SEGMENT.findall(match.group(2))
        if code[match.end():].lstrip().startswith("(") and parts:
            parts = parts[:-1]  # a method: data.opt_outs.size()
        if parts:
            found.append((match.group(1), *parts))
    return tuple(found)


@lru_cache(maxsize=16384)
def template_paths(source: str) -> tuple[DataPath, ...]:
    """Paths a template string reads; none for a template that does not parse (reported elsewhere)."""
    if _SIMPLE_TEMPLATE.fullmatch(source):  # plain substitutions: no parse needed (templating does the same)
        simple = [(name, *attributes.split(".")[1:]) for name, attributes in _SUBSTITUTION.findall(source)]
        if not any(path[0] in _KEYWORDS for path in simple):
            return tuple(sorted({path for path in simple if path[0] in ROOTS and len(path) > 1}))
    try:
        ast = _PARSER.parse(source)
    except (TemplateSyntaxError, RecursionError):
        return ()
    if any(name.name in ROOTS for name in ast.find_all(nodes.Name) if name.ctx in ("store", "param")):
        return ()  # the template rebinds data or steps itself
    found: list[DataPath] = []
    pending: list[tuple[nodes.Node, nodes.Node | None]] = [(ast, None)]
    while pending:
        node, parent = pending.pop()
        path = _chain(node)
        if path is not None and not _extends(parent, node):
            if isinstance(parent, nodes.Call) and parent.node is node:
                path = path[:-1]  # a method: data.name.upper()
            if len(path) > 1:
                found.append(path)
        pending.extend((child, node) for child in node.iter_child_nodes())
    return tuple(sorted(set(found)))


def _chain(node: nodes.Node) -> DataPath | None:
    """``data.a["b"].c`` as ("data", "a", "b", "c"); ``None`` for anything else."""
    parts: list[str] = []
    while True:
        if isinstance(node, nodes.Getattr):
            parts.append(node.attr)
        elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const) \
                and isinstance(node.arg.value, str | int):
            parts.append(str(node.arg.value))
        elif isinstance(node, nodes.Name) and node.name in ROOTS and node.ctx == "load":
            return (node.name, *reversed(parts))
        else:
            return None
        node = node.node


def _extends(parent: nodes.Node | None, node: nodes.Node) -> bool:
    """``parent`` reads further into ``node`` (so ``parent`` reports the longer path)."""
    return (isinstance(parent, nodes.Getattr | nodes.Getitem) and parent.node is node
            and _chain(parent) is not None)
