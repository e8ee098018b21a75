"""Our condition evaluation vs a bare compiled CEL program, same expression, same context.

Run: .venv/bin/python bench/bench_conditions.py
Target: wrapper / bare <= 3.
"""

from __future__ import annotations

import sys
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import cel

from bench._rules import PROBE_DATA, PROBE_EVENT
from engine.language.conditions import RULE_VARIABLES, compile_condition
from engine.language.context import EvaluationContext
from engine.language.events import Event

EXPRESSION = 'data.days_overdue >= 3 && data.customer.tier in ["gold", "silver"]'
NUMBER = 200_000


def best(statement, number: int = NUMBER) -> float:
    return min(timeit.repeat(statement, number=number, repeat=7)) / number


def main() -> None:
    context = EvaluationContext(Event(type=PROBE_EVENT, data=PROBE_DATA), {})
    scope = context.cel
    cel_context = scope.context
    program = cel.compile(EXPRESSION)
    errors: list = []
    node = compile_condition(EXPRESSION, ("if",), RULE_VARIABLES, errors)
    assert not errors and program.execute(cel_context) is True and node.holds(scope) is True

    bare = best(lambda: program.execute(cel_context))
    ours = best(lambda: node.holds(scope))
    explained = best(lambda: node.explain(scope, []))
    print(f"bare CEL program.execute:      {bare * 1e6:6.2f} us")
    print(f"despacho condition.holds:      {ours * 1e6:6.2f} us")
    print(f"despacho condition.explain:    {explained * 1e6:6.2f} us (dry-run trace)")
    print(f"ratio holds / bare: {ours / bare:.2f} (target <= 3)")
    print(f"ratio explain / bare: {explained / bare:.2f}")


if __name__ == "__main__":
    main()
