"""CEL conditions: compiled at load, evaluated per event, explained for dry-run.

``holds()`` is the fast path the engine uses (short-circuits, no trace);
``explain()`` evaluates every clause so dry-run can show why a rule did or
did not match; ``held_trace()`` and ``failed_trace()`` are the cheap trace a
run keeps, per top-level condition. Every call into the CEL library goes
through this module, which checks the limits of ``cel_limits`` first and turns the library's own failures,
panics included, into ``ConditionSyntaxError`` or ``ConditionEvaluationError``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from engine.errors import DespachoError, is_rust_panic
from engine.language.cel_library import cel
from engine.language.cel_limits import (
    MAX_CONDITION_WORK,
    ExpressionTooLarge,
    Shape,
    _without_strings,
    check_expression,
    widest,
)
from engine.language.models import AllOf, AnyOf, NotOf

_NO_LOOPS = Shape((), 1)
RULE_VARIABLES = frozenset({"event", "data", "now", "config", "recipient"})
ACTION_VARIABLES = RULE_VARIABLES | {"steps"}

_MACRO_BINDING = re.compile(r"\b(?:all|exists|exists_one|map|filter)\(\s*([A-Za-z_]\w*)\s*,")
_CEL_POSITION = re.compile(r"<input>:(\d+):(\d+): (.*)")
_SINGLE_EQUALS = re.compile(r"(?<![=!<>])=(?!=)")  # '=' that is not part of ==, !=, <=, >=


class ConditionSyntaxError(DespachoError):
    """A CEL expression failed to compile; ``column`` is 1-based within the expression."""

    def __init__(self, message: str, expression: str, column: int = 0, hint: str | None = None):
        super().__init__(message)
        self.expression = expression
        self.column = column
        self.hint = hint


class ConditionEvaluationError(DespachoError):
    """A clause failed at run time (a missing field, a type mismatch, a non-boolean result)."""

    code = "condition_error"

    def __init__(self, path: str, expression: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.expression = expression
        self.reason = reason


class ConditionLimitError(ConditionEvaluationError):
    """A clause would do more work than ``MAX_CONDITION_WORK`` allows on this event: refused unrun."""

    code = "condition_limit"


class Scope:
    """The variables of one evaluation as CEL takes them, and the size of their widest collection.

    The size is what bounds a comprehension's work; it is measured once per scope, and only
    when a clause that loops is evaluated.
    """

    __slots__ = ("_widest", "context", "variables")

    def __init__(self, variables: dict[str, Any]) -> None:
        self.variables = variables
        self.context = cel.Context(variables=variables)
        self._widest: int | None = None

    @property
    def widest(self) -> int:
        if self._widest is None:
            self._widest = widest(self.variables.values())
        return self._widest


@dataclass(frozen=True)
class ClauseResult:
    path: str
    expression: str
    value: bool | None
    error: str | None = None


class Node:
    __slots__ = ()

    def holds(self, ctx: Scope) -> bool:
        raise NotImplementedError

    def explain(self, ctx: Scope, out: list[ClauseResult]) -> bool:
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class Clause(Node):
    path: str
    expression: str
    program: cel.Program
    shape: Shape = _NO_LOOPS

    def holds(self, ctx: Scope) -> bool:
        if self.shape.powers:
            work = self.shape.work(ctx.widest)
            if work > MAX_CONDITION_WORK:
                raise ConditionLimitError(
                    self.path, self.expression,
                    f"refused: its comprehensions could do {work:.2g} steps over a collection of "
                    f"{ctx.widest} items, over the limit of {MAX_CONDITION_WORK:.0e}")
        try:
            value = self.program.execute(ctx.context)
        except (KeyError, TypeError, ValueError, RuntimeError, IndexError, ArithmeticError) as exc:
            # ArithmeticError: CEL raises OverflowError and ZeroDivisionError for int64 overflow, x / 0
            raise ConditionEvaluationError(self.path, self.expression, _runtime_reason(exc)) from exc
        except BaseException as exc:
            if not is_rust_panic(exc):
                raise
            raise ConditionEvaluationError(self.path, self.expression,
                                           f"the CEL library failed: {_first_line(exc)}") from exc
        if value is True or value is False:
            return value
        raise ConditionEvaluationError(
            self.path, self.expression, f"a condition must be true or false, got {value!r}"
        )

    def explain(self, ctx: Scope, out: list[ClauseResult]) -> bool:
        try:
            value = self.holds(ctx)
        except ConditionEvaluationError as exc:
            out.append(ClauseResult(self.path, self.expression, None, exc.reason))
            return False
        out.append(ClauseResult(self.path, self.expression, value))
        return value


@dataclass(frozen=True, slots=True)
class AllNode(Node):
    children: tuple[Node, ...]
    path: str = ""

    def holds(self, ctx: Scope) -> bool:
        return all(child.holds(ctx) for child in self.children)

    def explain(self, ctx: Scope, out: list[ClauseResult]) -> bool:
        return all([child.explain(ctx, out) for child in self.children])


@dataclass(frozen=True, slots=True)
class AnyNode(Node):
    children: tuple[Node, ...]
    path: str = ""

    def holds(self, ctx: Scope) -> bool:
        return any(child.holds(ctx) for child in self.children)

    def explain(self, ctx: Scope, out: list[ClauseResult]) -> bool:
        return any([child.explain(ctx, out) for child in self.children])


@dataclass(frozen=True, slots=True)
class NotNode(Node):
    child: Node
    path: str = ""

    def holds(self, ctx: Scope) -> bool:
        return not self.child.holds(ctx)

    def explain(self, ctx: Scope, out: list[ClauseResult]) -> bool:
        return not self.child.explain(ctx, out)


def held_trace(node: Node) -> list[ClauseResult]:
    """The trace of a condition that held, at no cost: each of its top-level parts was true."""
    return [ClauseResult(node_path(part), describe(part), True) for part in _top_level(node)]


def failed_trace(node: Node, ctx: Scope) -> list[ClauseResult]:
    """Each top-level part evaluated on its own, its error kept: for a condition that raised.

    Only runs when evaluation already failed, so evaluating the parts again costs nothing on the
    path every matching event takes.
    """
    results = []
    for part in _top_level(node):
        try:
            results.append(ClauseResult(node_path(part), describe(part), part.holds(ctx)))
        except ConditionEvaluationError as exc:
            results.append(ClauseResult(node_path(part), describe(part), None, exc.reason))
    return results


def _top_level(node: Node) -> tuple[Node, ...]:
    # a list under `if:` (or an `all:` block) reads as several conditions: trace each one
    return node.children if isinstance(node, AllNode) else (node,)


def node_path(node: Node) -> str:
    return node.path if isinstance(node, Clause | AllNode | AnyNode | NotNode) else ""


def describe(node: Node) -> str:
    """A condition on one line: a clause's CEL, a block as ``any: [a, b]`` or ``not: a``."""
    if isinstance(node, Clause):
        return node.expression
    if isinstance(node, AllNode | AnyNode):
        name = "all" if isinstance(node, AllNode) else "any"
        return f"{name}: [{', '.join(describe(child) for child in node.children)}]"
    if isinstance(node, NotNode):
        return f"not: {describe(node.child)}"
    return repr(node)


def compile_expression(expression: str, allowed: frozenset[str] = RULE_VARIABLES) -> cel.Program:
    """Compile one CEL expression; raises ``ConditionSyntaxError``."""
    return _checked(expression, allowed)[0]


def _checked(expression: str, allowed: frozenset[str]) -> tuple[cel.Program, Shape]:
    program, free, shape = _compiled(expression)
    unknown = sorted(free - allowed)
    if unknown:
        names = ", ".join(sorted(allowed))
        raise ConditionSyntaxError(f"unknown variable '{unknown[0]}' in condition", expression,
                                   hint=f"conditions can use: {names}")
    return program, shape


@lru_cache(maxsize=65536)
def _compiled(expression: str) -> tuple[cel.Program, frozenset[str], Shape]:
    """The program, its free variables and its shape; rules repeat expressions, a program is immutable."""
    try:
        shape = check_expression(expression)  # before CEL: past these limits the library can crash
    except ExpressionTooLarge as exc:
        raise ConditionSyntaxError(str(exc), expression, hint=exc.hint) from exc
    try:
        program = cel.compile(expression)
    except (ValueError, RuntimeError) as exc:
        raise _syntax_error(str(exc), expression) from exc
    except BaseException as exc:
        if not is_rust_panic(exc):
            raise
        raise ConditionSyntaxError(f"CEL could not compile this condition: {_first_line(exc)}",
                                   expression, hint="simplify or split the condition") from exc
    bound = set(_MACRO_BINDING.findall(expression))
    return program, frozenset(set(program.variables()) - bound), shape


def compile_condition(
    condition: Any, path: tuple[str | int, ...], allowed: frozenset[str],
    errors: list[tuple[tuple[str | int, ...], ConditionSyntaxError]],
) -> Node:
    """Build the node tree of a parsed condition; syntax errors go to ``errors`` with their path."""
    if isinstance(condition, str):
        try:
            program, shape = _checked(condition, allowed)
            return Clause(_path_text(path), condition, program, shape)
        except ConditionSyntaxError as exc:
            errors.append((path, exc))
            return AllNode(())
    if isinstance(condition, list):
        return AllNode(tuple(compile_condition(c, (*path, i), allowed, errors)
                             for i, c in enumerate(condition)), _path_text(path))
    if isinstance(condition, AllOf):
        return AllNode(tuple(compile_condition(c, (*path, "all", i), allowed, errors)
                             for i, c in enumerate(condition.all)), _path_text(path))
    if isinstance(condition, AnyOf):
        return AnyNode(tuple(compile_condition(c, (*path, "any", i), allowed, errors)
                             for i, c in enumerate(condition.any)), _path_text(path))
    if isinstance(condition, NotOf):
        return NotNode(compile_condition(condition.not_, (*path, "not"), allowed, errors), _path_text(path))
    raise TypeError(f"not a condition: {condition!r}")


def _path_text(path: tuple[str | int, ...]) -> str:
    from engine.language.problems import format_path

    # Traces are read per rule: drop the "rules[n]." prefix of the file path.
    if len(path) > 2 and path[0] == "rules" and isinstance(path[1], int):
        path = path[2:]
    return format_path(path)


def _syntax_error(raw: str, expression: str) -> ConditionSyntaxError:
    match = _CEL_POSITION.search(raw)
    if not match:
        return ConditionSyntaxError(f"CEL syntax error: {raw.splitlines()[0]}", expression)
    column = int(match.group(2))  # already 1-based
    detail = match.group(3).removeprefix("Syntax error: ")
    detail = re.sub(r" expecting \{.*\}$", "", detail)
    hint = "did you mean '=='? CEL compares with ==" if _SINGLE_EQUALS.search(_without_strings(expression)) \
        else None
    return ConditionSyntaxError(f"CEL syntax error at column {column}: {detail}", expression, column, hint)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:200]


def _runtime_reason(exc: Exception) -> str:
    if isinstance(exc, KeyError):
        return f"no such field {exc.args[0]!r} in the event"
    text = str(exc)
    return text.split(". ")[0] if "No such overload" in text else text
