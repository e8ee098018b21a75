"""The Jinja2 sandbox every template renders in, with a bound on the work one render may do.

Jinja's own sandbox keeps a template away from Python's internals, not from working forever:
``('A'*10**7)*100``, ``'a'|center(10**9)``, ``[1]*10**8`` and two loops nested over a
20,000-item payload each held a worker thread for minutes, and a 40-byte event was enough.
A single C-level operation cannot be interrupted, so the operations that build big values
are checked *before* they run, and everything else is counted as it runs:

- ``*``, ``**``, ``+`` and ``%`` (operators), ``~`` (concatenation), and the string methods
  and filters that pad or repeat (``center``, ``ljust``, ``rjust``, ``zfill``,
  ``expandtabs``, ``replace``, ``join``, ``format``, ``indent``, ``batch``, ``slice``,
  ``sum``) refuse a result over ``MAX_TEXT`` characters, ``MAX_ITEMS`` items or
  ``MAX_INT_BITS`` bits; every call's result is checked the same way;
- ``range()`` is limited to ``MAX_ITEMS`` and every ``for`` loop counts its iterations
  against ``MAX_ITERATIONS`` per render;
- everything a render emits (captured blocks and macros included) counts against
  ``MAX_TEXT``;
- every loop iteration, call, attribute read, operator and emitted piece checks a deadline of
  ``RENDER_SECONDS`` from the start of the render (one ``budget()`` can span several renders:
  all the params and the message of one action call).

A limit broken raises ``TemplateLimitError``. Loops and output are counted by filters that a
transform of the parsed template wraps around every ``for`` iterable, every emitted value and
every concatenation (``_Bounder``), so no template can opt out of them. The limits and the
checks themselves live in ``render_limits``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Iterator
from functools import wraps
from typing import Any, cast

from jinja2 import nodes, pass_context
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.visitor import NodeTransformer

from engine.language.render_limits import (
    MAX_ITERATIONS,
    MAX_TEXT,
    TemplateLimitError,
    check_items,
    check_text,
    checked,
    current_budget,
    filter_check,
    format_spec_size,
    join_size,
    percent_size,
    power_size,
    repeat_size,
    str_method_size,
    sum_size,
    tick,
)

# --- filters ----------------------------------------------------------------------------------

_GROWTH_FILTERS = frozenset({"center", "indent", "format", "replace", "batch", "slice", "join", "sum"})


def _limited_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    signature = _signature(func) if name in _GROWTH_FILTERS else None

    @wraps(func)  # keeps jinja's pass_context / pass_eval_context marks
    def run(*args: Any, **kwargs: Any) -> Any:
        tick()
        if signature is not None:
            bound = signature.bind(*args, **kwargs)
            folded = "value" if name == "join" else "iterable"
            if name in ("join", "sum") and folded in bound.arguments:
                items = list(bound.arguments[folded])  # measured before the fold, then folded
                bound.arguments[folded] = items
                _measure_fold(name, items, bound.arguments)
            filter_check(name, bound.arguments)
            args, kwargs = bound.args, bound.kwargs
        return checked(func(*args, **kwargs), f"the {name} filter's result")

    return run


def _signature(func: Callable[..., Any]) -> inspect.Signature:
    """The parameters a filter is called with, the context, environment or eval context included.

    Jinja's async-ready filters (``slice``, ``join``...) are wrappers that take an eval context
    their wrapped function does not declare; the signature seen through the wrapper lacks it.
    """
    signature = inspect.signature(func)
    names = list(signature.parameters)
    if getattr(func, "jinja_pass_arg", None) is not None and names[:1] not in (
            ["context"], ["eval_ctx"], ["environment"]):
        passed = inspect.Parameter("passed", inspect.Parameter.POSITIONAL_ONLY)
        signature = signature.replace(parameters=[passed, *signature.parameters.values()])
    return signature


def _measure_fold(name: str, items: list[Any], arguments: dict[str, Any]) -> None:
    if name == "join":
        separator = arguments.get("d", "")
        join_size(separator if isinstance(separator, str) else "", items)
    elif not isinstance(arguments.get("start", 0), int | float):
        # sum(start=[] or '') concatenates, and re-copies the total on every item
        check_items(sum(len(item) if isinstance(item, list | tuple | str) else 1 for item in items),
                     "a summed list")


# --- the environment --------------------------------------------------------------------------

def _bounded_range(*args: int) -> range:
    tick()
    numbers = range(*args)
    check_items(len(numbers), "range()")
    return numbers


@pass_context
def _loop_items(context: Context, iterable: Iterable[Any]) -> Iterator[Any]:
    """Every ``for`` loop iterates through here: counted, and the deadline checked, per item."""
    current = current_budget()
    for item in iterable:
        if current is not None:
            current.iterations += 1
            if current.iterations > MAX_ITERATIONS:
                raise TemplateLimitError(f"loops ran more than {MAX_ITERATIONS} times in one render")
            current.tick()
        yield item


@pass_context
def _emitted(context: Context, value: Any) -> Any:
    """Every piece a template emits goes through here and counts against ``MAX_TEXT``."""
    current = current_budget()
    if current is not None:
        current.emitted += len(value) if isinstance(value, str) else len(str(value))
        if current.emitted > MAX_TEXT:
            raise TemplateLimitError(f"a render emitted more than {MAX_TEXT} characters")
        current.tick()
    return value


@pass_context
def _concatenated(context: Context, value: Any) -> Any:
    return checked(value, "a '~' concatenation")


_INTERNAL_FILTERS = {"_loop_items": _loop_items, "_emitted": _emitted, "_concatenated": _concatenated}


class _Bounder(NodeTransformer):
    """Wraps loop iterables, emitted values and concatenations in the counting filters."""

    def __init__(self, environment: LimitedSandbox) -> None:
        self.environment = environment

    def _wrap(self, node: nodes.Expr, name: str) -> nodes.Expr:
        wrapped = nodes.Filter(node, name, [], [], None, None, lineno=node.lineno)
        wrapped.set_environment(self.environment)
        return wrapped

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = self._wrap(cast("nodes.Expr", node.iter), "_loop_items")
        return node

    def visit_Output(self, node: nodes.Output) -> nodes.Node:
        self.generic_visit(node)
        node.nodes = [self._wrap(child, "_emitted") for child in node.nodes]
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return self._wrap(node, "_concatenated")


class LimitedSandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox, with every operation that can grow a value checked first."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.globals["range"] = _bounded_range
        self.globals.pop("lipsum", None)  # lipsum(n=10**7) writes paragraphs for minutes

    def finish_filters(self) -> None:
        """Wrap every filter (call after adding the project's own)."""
        for name, func in list(self.filters.items()):
            if name not in _INTERNAL_FILTERS:
                self.filters[name] = _limited_filter(name, func)
        self.filters.update(_INTERNAL_FILTERS)

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        ast = super()._parse(source, name, filename)
        _Bounder(self).visit(ast)
        return ast

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        tick()
        if operator == "*":
            repeat_size(left, right)
        elif operator == "**":
            power_size(left, right)
        elif operator == "+":
            sum_size(left, right)
        elif operator == "%":
            percent_size(left, right)
        return self.binop_table[operator](left, right)

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        tick()
        owner = getattr(__obj, "__self__", None)
        if isinstance(owner, str):
            method = getattr(__obj, "__name__", "")
            str_method_size(method, owner, args, kwargs)
            if method == "join" and args:
                items = list(args[0])
                join_size(owner, items)
                args = (items, *args[1:])
        return checked(super().call(__context, __obj, *args, **kwargs), "a call's result")

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """``str.format`` and ``format_map``, sandboxed by Jinja, with their widths checked first."""
        wrapper = super().wrap_str_format(value)
        if wrapper is None:
            return None
        sandboxed: Callable[..., str] = wrapper
        template: str = value.__self__

        def checked(*args: Any, **kwargs: Any) -> str:
            tick()
            format_spec_size(template)
            text = sandboxed(*args, **kwargs)
            check_text(len(text), "a formatted string")
            return text

        return checked

    def getattr(self, obj: Any, attribute: str) -> Any:
        tick()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        tick()
        return super().getitem(obj, argument)
