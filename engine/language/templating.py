"""Jinja2 templating: params of actions and message template files.

Everything renders in an immutable sandbox with ``StrictUndefined``, so a
typo in a variable is an error, never an empty string. HTML email parts are
autoescaped; text parts are not. The sandbox (``sandbox.LimitedSandbox``)
bounds the time, the loops and the size of what one render builds; a limit
broken is a ``TemplateRenderError`` with the code ``template_limit``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path as FsPath
from typing import Any, cast

from jinja2 import (
    FileSystemLoader,
    StrictUndefined,
    TemplateError,
    TemplateSyntaxError,
    nodes,
)

from engine.errors import DespachoError
from engine.language.filters import FILTERS
from engine.language.render_limits import TemplateLimitError, budget, count_output
from engine.language.sandbox import LimitedSandbox

TEMPLATE_VARIABLES = frozenset({"event", "data", "steps", "now", "rule", "config", "recipient"})
_MARKER = re.compile(r"\{[{%#]")  # "{{", "{%" or "{#"


class TemplateProblem(DespachoError):
    """A template failed to compile (``line`` is within the template text, 1-based)."""

    def __init__(self, message: str, line: int = 0, file: str | None = None) -> None:
        super().__init__(message)
        self.line = line
        self.file = file


class TemplateRenderError(DespachoError):
    """A template failed while rendering (undefined variable, bad filter input, a limit: ``code``)."""

    def __init__(self, message: str, *, code: str = "render_error") -> None:
        super().__init__(message)
        self.code = code


class TemplateNameError(TemplateRenderError):
    """A template name that would leave ``templates/<channel>/`` (absolute, ``..``, a symlink out)."""


def template_name_problem(name: str) -> str | None:
    """Why ``name`` cannot name a template file, or None; ``despacho validate`` and every render ask."""
    if not name or any(ord(char) < 32 or char in "\\\x7f" for char in name):
        return f"template name {name!r} must be a plain file name under templates/<channel>/"
    if name.startswith("/") or FsPath(name).is_absolute():
        return f"template name {name!r} must be relative to templates/<channel>/, not an absolute path"
    if ".." in name.split("/"):
        return f"template name {name!r} cannot contain '..'"
    return None


# What a render can raise besides Jinja's own errors: bad input to a filter or operator, and
# the parser or Python's compiler giving up on a template nested too deeply.
_RENDER_FAILURES = (TypeError, ValueError, ArithmeticError, RecursionError, SyntaxError, MemoryError)


def _environment(*, autoescape: bool, root: FsPath | None = None) -> LimitedSandbox:
    env = LimitedSandbox(
        undefined=StrictUndefined,
        autoescape=autoescape,
        loader=FileSystemLoader(str(root)) if root else None,
        keep_trailing_newline=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(FILTERS)
    env.finish_filters()
    return env


_PARAM_ENV = _environment(autoescape=False)


# --- params -----------------------------------------------------------------------------------

class Value:
    """A param value ready to render with a context."""

    __slots__ = ()

    def render(self, context: dict[str, Any]) -> Any:
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class Literal(Value):
    value: Any

    def render(self, context: dict[str, Any]) -> Any:
        return self.value


@dataclass(frozen=True, slots=True)
class TemplateString(Value):
    source: str

    def render(self, context: dict[str, Any]) -> Any:
        try:
            with budget():
                plain = _plain_substitution(self.source)
                text = plain.render(context) if plain is not None else None
                return text if text is not None else _compiled(self.source).render(context)
        except TemplateLimitError as exc:
            raise TemplateRenderError(f"{exc} in '{_excerpt(self.source)}'", code="template_limit") from exc
        except TemplateError as exc:
            raise TemplateRenderError(f"{_describe(exc)} in '{_excerpt(self.source)}'") from exc
        except _RENDER_FAILURES as exc:
            raise TemplateRenderError(f"{_failure(exc)} in '{_excerpt(self.source)}'") from exc


@dataclass(frozen=True, slots=True)
class MappingValue(Value):
    items: tuple[tuple[str, Value], ...]

    def render(self, context: dict[str, Any]) -> Any:
        return {key: value.render(context) for key, value in self.items}


@dataclass(frozen=True, slots=True)
class ListValue(Value):
    items: tuple[Value, ...]

    def render(self, context: dict[str, Any]) -> Any:
        return [item.render(context) for item in self.items]


@dataclass(frozen=True, slots=True)
class _PlainSubstitution:
    """A template of text and ``{{ name.path }}`` substitutions, rendered without Jinja.

    Most params are such templates, and Jinja's own render (a new context, the sandbox's
    attribute checks) was most of an action call's time. Only the case Jinja itself would
    answer by plain dict lookups is taken here: every name in the variables, every step a
    key of a plain ``dict`` that is not also one of its attributes. Anything else (a missing
    key, a list, an object, ``data.items``) returns ``None`` and Jinja renders, with its
    errors and its sandbox; the output counts against the render budget as Jinja's does.
    """

    parts: tuple[str | tuple[str, ...], ...]

    def render(self, context: dict[str, Any]) -> str | None:
        pieces: list[str] = []
        for part in self.parts:
            if isinstance(part, str):
                pieces.append(part)
                continue
            value = context.get(part[0], _ABSENT) if type(context) is dict else _ABSENT
            for key in part[1:]:
                if type(value) is not dict or key in _DICT_ATTRIBUTES:
                    return None
                value = value.get(key, _ABSENT)
            if value is _ABSENT:
                return None
            pieces.append(value if type(value) is str else str(value))
        text = "".join(pieces)
        count_output(len(text))
        return text


_ABSENT = object()
_DICT_ATTRIBUTES = frozenset(dir(dict))


@lru_cache(maxsize=65536)
def _plain_substitution(source: str) -> _PlainSubstitution | None:
    """``source`` as text and substitutions, when it is only that (see ``_PlainSubstitution``)."""
    if "\r" in source or not _SIMPLE_TEMPLATE.fullmatch(source):
        return None  # Jinja turns "\r\n" into "\n": left to it
    if source.endswith("\n"):
        source = source[:-1]  # keep_trailing_newline=False: Jinja drops one final newline
    parts: list[str | tuple[str, ...]] = []
    end = 0
    for match in _SUBSTITUTION.finditer(source):
        name, attributes = match.groups()
        if name in _KEYWORDS:
            return None
        if match.start() > end:
            parts.append(source[end:match.start()])
        parts.append((name, *attributes.split(".")[1:]))
        end = match.end()
    if end < len(source):
        parts.append(source[end:])
    return _PlainSubstitution(tuple(parts))


def is_template(text: str) -> bool:
    return _MARKER.search(text) is not None


@lru_cache(maxsize=65536)
def _compiled(source: str) -> Any:
    return _PARAM_ENV.from_string(source)


def compile_value(value: Any, path: tuple[str | int, ...] = (),
                  errors: list[tuple[tuple[str | int, ...], TemplateProblem]] | None = None) -> Value:
    """Compile every templated string inside ``value``; syntax errors go to ``errors``."""
    if isinstance(value, str) and is_template(value):
        try:
            _analyze(value)  # parsing finds syntax errors; compiling waits for the first render
        except (TemplateSyntaxError, RecursionError) as exc:
            problem = _syntax_problem(exc)
            if errors is None:
                raise problem from exc
            errors.append((path, problem))
            return Literal(value)
        return TemplateString(value)
    if isinstance(value, dict):
        return MappingValue(tuple((k, compile_value(v, (*path, k), errors)) for k, v in value.items()))
    if isinstance(value, list):
        return ListValue(tuple(compile_value(v, (*path, i), errors) for i, v in enumerate(value)))
    return Literal(value)


def _syntax_problem(exc: TemplateSyntaxError | RecursionError) -> TemplateProblem:
    if isinstance(exc, RecursionError):  # Jinja's parser recurses once per nested bracket
        return TemplateProblem("template nested too deeply for the parser; flatten it")
    return TemplateProblem(f"template syntax error: {exc.message}", exc.lineno)


@dataclass(frozen=True, slots=True)
class References:
    variables: frozenset[str]
    steps: frozenset[str]


def references(source: str) -> References:
    """Top-level variables and ``steps.<id>`` names a template string reads."""
    return _analyze(source)


def _analyze(source: str) -> References:
    if _SIMPLE_TEMPLATE.fullmatch(source):
        return _simple_references(source)
    return _parsed_references(source)


@lru_cache(maxsize=65536)
def _parsed_references(source: str) -> References:
    return _references_of(_PARAM_ENV.parse(source))


# Most params are text with plain substitutions ("Ola {{ data.customer.name }}"). Jinja's parser
# costs about 0.3 ms per string; these need none of it: they cannot hold a syntax error and what
# they read is the first name of each dotted path. Anything else (filters, tests, blocks,
# whitespace control, keywords, '{' runs the lexer might read differently) takes the full parse.
_TEXT = r"(?:[^{]|\{(?![{%#]))*"
_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_SUBSTITUTION = re.compile(rf"\{{\{{ *({_NAME})((?:\.{_NAME})*) *\}}\}}")
_SIMPLE_TEMPLATE = re.compile(rf"{_TEXT}(?:{_SUBSTITUTION.pattern}{_TEXT})+")
_KEYWORDS = frozenset({"true", "false", "True", "False", "none", "None",
                       "not", "and", "or", "in", "is", "if", "else"})


def _simple_references(source: str) -> References:
    variables: set[str] = set()
    steps: set[str] = set()
    for match in _SUBSTITUTION.finditer(source):
        name, attributes = match.groups()
        if name in _KEYWORDS:  # a constant or an operator, not a variable: let Jinja decide
            return _parsed_references(source)
        variables.add(name)
        if name == "steps" and attributes:
            steps.add(attributes.split(".")[1])
    return References(frozenset(variables), frozenset(steps))


def _references_of(ast: nodes.Template) -> References:
    """Names read but never assigned (a cheap stand-in for ``meta.find_undeclared_variables``,
    which runs the code generator), and the step ids read through ``steps``."""
    loaded: set[str] = set()
    stored: set[str] = set()
    for name in ast.find_all(nodes.Name):
        (stored if name.ctx in ("store", "param") else loaded).add(name.name)
    steps = set()
    found = cast("Iterator[nodes.Getattr | nodes.Getitem]", ast.find_all((nodes.Getattr, nodes.Getitem)))
    for node in found:
        target = node.node
        if isinstance(target, nodes.Name) and target.name == "steps":
            if isinstance(node, nodes.Getattr):
                steps.add(node.attr)
            elif isinstance(node.arg, nodes.Const):
                steps.add(str(node.arg.value))
    return References(frozenset(loaded - stored), frozenset(steps))


def value_references(value: Value) -> References:
    """All references of every template inside a compiled value."""
    variables: set[str] = set()
    steps: set[str] = set()
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, TemplateString):
            refs = references(item.source)
            variables |= refs.variables
            steps |= refs.steps
        elif isinstance(item, MappingValue):
            pending.extend(v for _, v in item.items)
        elif isinstance(item, ListValue):
            pending.extend(item.items)
    return References(frozenset(variables), frozenset(steps))


# --- message template files -------------------------------------------------------------------

CHANNEL_PARTS: dict[str, dict[str, str]] = {
    "email": {"subject": ".subject", "text": ".txt", "html": ".html"},
    "sms": {"text": ".txt"},
    "whatsapp": {"text": ".txt"},
}
REQUIRED_PARTS: dict[str, tuple[str, ...]] = {
    "email": ("subject", "text"),
    "sms": ("text",),
    "whatsapp": ("text",),
}


class TemplateStore:
    """Message templates under ``<root>/<channel>/<name>.<part>``."""

    def __init__(self, root: str | FsPath) -> None:
        self.root = FsPath(root)
        self._text_env = _environment(autoescape=False, root=self.root)
        self._html_env = _environment(autoescape=True, root=self.root)

    def part_files(self, channel: str, name: str) -> dict[str, FsPath]:
        """The parts of a template that exist on disk; raises ``TemplateNameError`` for a name (or a
        symlink) leading out of the channel's folder, so a name rendered from data reads nothing else."""
        problem = template_name_problem(name)
        if problem is not None:
            raise TemplateNameError(problem)
        folder = self.root / channel
        parts = CHANNEL_PARTS[channel]
        files = {part: folder / f"{name}{suffix}" for part, suffix in parts.items()}
        found = {part: path for part, path in files.items() if path.is_file()}
        inside = folder.resolve()
        for path in found.values():
            if not path.resolve().is_relative_to(inside):
                raise TemplateNameError(f"template {path.relative_to(self.root).as_posix()} leads out of "
                                        f"{folder}/ (a symlink?)")
        return found

    def names(self, channel: str) -> list[str]:
        folder = self.root / channel
        if not folder.is_dir():
            return []
        return sorted({p.stem for p in folder.iterdir() if p.is_file() and not p.name.startswith("_")})

    def check(self, channel: str, name: str, extra: frozenset[str] = frozenset()) -> list[TemplateProblem]:
        """Problems of one template: missing parts, syntax errors, unknown variables (``extra``: the
        variables of the action's for_each, besides the usual ones)."""
        try:
            found = self.part_files(channel, name)
        except TemplateNameError as exc:
            return [TemplateProblem(str(exc))]
        if not found:
            return [TemplateProblem(f"template '{name}' not found under {self.root / channel}/")]
        problems = [
            TemplateProblem(f"template '{name}' has no {CHANNEL_PARTS[channel][part]} part")
            for part in REQUIRED_PARTS[channel] if part not in found
        ]
        for part, path in found.items():
            problems.extend(self._check_file(channel, part, path, extra))
        return problems

    def _check_file(self, channel: str, part: str, path: FsPath,
                    extra: frozenset[str] = frozenset()) -> list[TemplateProblem]:
        env = self._html_env if part == "html" else self._text_env
        try:
            source = path.read_text(encoding="utf-8")
            ast = env.parse(source)
        except TemplateSyntaxError as exc:
            return [TemplateProblem(f"template syntax error: {exc.message}", exc.lineno or 0, str(path))]
        except RecursionError:
            return [TemplateProblem("template nested too deeply for the parser; flatten it", 0, str(path))]
        except (OSError, UnicodeDecodeError) as exc:
            return [TemplateProblem(f"cannot read template: {exc}", 0, str(path))]
        known = TEMPLATE_VARIABLES | extra
        unknown = sorted(_references_of(ast).variables - known)
        if unknown:
            allowed = ", ".join(sorted(known))
            return [TemplateProblem(f"unknown variable '{unknown[0]}' (templates can use: {allowed})",
                                    _line_of(source, unknown[0]), str(path))]
        return []

    def render(self, channel: str, name: str, context: dict[str, Any]) -> dict[str, str]:
        """Render every part of a template; raises ``TemplateRenderError``."""
        rendered = {}
        for part, path in self.part_files(channel, name).items():
            env = self._html_env if part == "html" else self._text_env
            relative = path.relative_to(self.root).as_posix()
            try:
                with budget():
                    text = env.get_template(relative).render(context)
            except TemplateLimitError as exc:
                raise TemplateRenderError(f"{exc} in template {relative}", code="template_limit") from exc
            except TemplateError as exc:
                raise TemplateRenderError(f"{_describe(exc)} in template {relative}") from exc
            except _RENDER_FAILURES as exc:
                raise TemplateRenderError(f"{_failure(exc)} in template {relative}") from exc
            rendered[part] = text.strip() if part != "html" else text
        return rendered


def _excerpt(source: str) -> str:
    return source if len(source) <= 200 else source[:200] + "..."


def _failure(exc: BaseException) -> str:
    if isinstance(exc, RecursionError | SyntaxError):
        return "template nested too deeply"
    return str(exc) or type(exc).__name__


def _describe(exc: TemplateError) -> str:
    return str(exc.message or exc).replace("'dict object'", "the value")


def _line_of(source: str, word: str) -> int:
    for number, line in enumerate(source.splitlines(), start=1):
        if word in line:
            return number
    return 0
