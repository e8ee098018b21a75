"""Bounds on CEL expressions, checked before the CEL library sees or runs them.

The library (``common-expression-language``) is a Rust extension, and three of its behaviours
make a hostile expression dangerous in-process (measured on its 0.5 release, 2 cores):

- its parser recurses once per operator of a chain: ``1+1+...`` with 20,000 operators
  overflows the thread's stack and the whole process dies (5,000 pass); a 120 KB expression
  panics while formatting its own error (a ``PanicException``, which is a ``BaseException``);
- its evaluator holds the GIL and cannot be interrupted: a thread waiting for it with a
  timeout does not even wake up until it returns;
- ``map`` and ``filter`` copy their accumulator on every item, so they are quadratic: a
  ``map`` over 8,000 items takes 2 s, one ``map`` nested in another over 1,000 items 63 s.
  ``all``, ``exists`` and ``exists_one`` are linear (20,000 items in 8 ms).

So an expression is refused at load when it is longer than ``MAX_EXPRESSION_LENGTH``
characters (at two characters per operator that keeps every chain under 2,100 operators)
or nests brackets deeper than ``MAX_EXPRESSION_NESTING``; and an evaluation is refused before
it starts when the work its comprehensions could do over the event's widest list or map
exceeds ``MAX_CONDITION_WORK`` (an estimate that is never below the real count; 10^6 units
take under half a second here).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

MAX_EXPRESSION_LENGTH = 4096
MAX_EXPRESSION_NESTING = 32
MAX_CONDITION_WORK = 1_000_000

# The comprehension macros; exists_one before exists so the longer name wins.
_MACRO = re.compile(r"\.\s*(exists_one|exists|all|map|filter)\s*\(")
_QUADRATIC = frozenset({"map", "filter"})  # they rebuild their result list on every item
_OPENERS = {"(": ")", "[": "]", "{": "}"}


@dataclass(frozen=True, slots=True)
class Shape:
    """What bounds an expression's work: one power per comprehension, and its literal items.

    A comprehension nested in ``k`` others runs its body ``N ** k`` times, each run costing
    ``N`` (``all``, ``exists``) or ``N * N`` (``map``, ``filter``) for a collection of ``N``
    items: its power is ``k + 1`` or ``k + 2``. Comprehensions side by side add up.
    """

    powers: tuple[int, ...]
    literal_items: int  # an upper bound on the items of a list or map written in the expression

    def work(self, widest: int) -> int:
        size = max(widest, self.literal_items, 1)
        return sum(size ** power for power in self.powers)


class ExpressionTooLarge(ValueError):
    """The expression breaks a limit the CEL library is not safe beyond; the message says which."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.hint = hint


def check_expression(expression: str) -> Shape:
    """The expression's shape; raises ``ExpressionTooLarge`` when it is too long or too deep."""
    if len(expression) > MAX_EXPRESSION_LENGTH:
        raise ExpressionTooLarge(
            f"condition is {len(expression)} characters long; at most {MAX_EXPRESSION_LENGTH} are allowed",
            "split it into several conditions (a list: all must hold)")
    code = _without_strings(expression)
    powers: list[int] = []
    stack: list[bool] = []  # one entry per open bracket: does it open a comprehension?
    deepest = 0
    macros = {match.end() - 1: match.group(1) for match in _MACRO.finditer(code)}
    for index, char in enumerate(code):
        if char in _OPENERS:
            macro = macros.get(index)
            if macro is not None:
                enclosing = sum(stack)
                powers.append(enclosing + (2 if macro in _QUADRATIC else 1))
            stack.append(macro is not None)
            deepest = max(deepest, len(stack))
        elif char in _OPENERS.values() and stack:
            stack.pop()
    if deepest > MAX_EXPRESSION_NESTING:
        raise ExpressionTooLarge(
            f"condition nests brackets {deepest} deep; at most {MAX_EXPRESSION_NESTING} are allowed",
            "flatten it, or split it into several conditions")
    return Shape(tuple(powers), code.count(",") + 1)


def _without_strings(expression: str) -> str:
    """The expression with the text of its string literals blanked, so brackets in them don't count."""
    out = []
    quote: str | None = None
    escaped = False
    for char in expression:
        if quote is None:
            if char in "'\"":
                quote = char
            out.append(char)
        elif escaped:
            escaped = False
            out.append(" ")
        elif char == "\\":
            escaped = True
            out.append(" ")
        elif char == quote:
            quote = None
            out.append(char)
        else:
            out.append(" ")
    return "".join(out)


def widest(values: Iterable[Any]) -> int:
    """The item count of the largest list or map anywhere in ``values`` (iterative: any depth is safe)."""
    largest = 0
    pending = list(values)
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            largest = max(largest, len(item))
            pending.extend(item.values())
        elif isinstance(item, list | tuple):
            largest = max(largest, len(item))
            pending.extend(item)
    return largest
