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
every concatenation (``_bounded``), so no template can opt out of them.
"""

from __future__ import annotations

import inspect
import re
import string
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import wraps
from typing import Any, cast

from jinja2 import nodes, pass_context
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.visitor import NodeTransformer

from engine.errors import DespachoError

MAX_TEXT = 2_000_000        # characters: a string built, and all a render emits
MAX_ITEMS = 100_000         # items of a list built, and of a range()
MAX_ITERATIONS = 100_000    # for-loop iterations in one render, all loops together
MAX_INT_BITS = 65_536       # an integer built by * or ** (about 20,000 digits)
RENDER_SECONDS = 2.0        # one render, or one budget() spanning several

_PERCENT_WIDTHS = re.compile(r"%[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")
_SPEC_NUMBERS = re.compile(r"\d+")


class TemplateLimitError(DespachoError):
    """A render went past one of this module's limits; the message names the limit."""


@dataclass
class Budget:
    """What one render (or one action call's renders) may still use."""

    deadline: float
    iterations: int = 0
    emitted: int = 0
    started: float = field(default_factory=time.monotonic)

    def tick(self) -> None:
        if time.monotonic() > self.deadline:
            raise TemplateLimitError(f"rendering took more than {RENDER_SECONDS:g} s")


_BUDGET: ContextVar[Budget | None] = ContextVar("despacho_render_budget", default=None)


@contextmanager
def budget() -> Iterator[Budget]:
    """The current render budget, opened here when none is (nested renders share the outer one)."""
    current = _BUDGET.get()
    if current is not None:
        yield current
        return
    fresh = Budget(time.monotonic() + RENDER_SECONDS)
    token = _BUDGET.set(fresh)
    try:
        yield fresh
    finally:
        _BUDGET.reset(token)


def _tick() -> None:
    current = _BUDGET.get()
    if current is not None:
        current.tick()


# --- size checks ------------------------------------------------------------------------------

def _check_text(length: int, what: str) -> None:
    if length > MAX_TEXT:
        raise TemplateLimitError(f"{what} would be {length} characters long; at most {MAX_TEXT} are allowed")


def _check_items(count: int, what: str) -> None:
    if count > MAX_ITEMS:
        raise TemplateLimitError(f"{what} would have {count} items; at most {MAX_ITEMS} are allowed")


def _checked(value: Any, what: str) -> Any:
    """``value`` when it is within the size limits (strings, lists, tuples and ints are measured)."""
    if isinstance(value, str):
        _check_text(len(value), what)
    elif isinstance(value, list | tuple | dict | set):
        _check_items(len(value), what)
    elif isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > MAX_INT_BITS:
        raise TemplateLimitError(f"{what} would be a number of {value.bit_length()} bits; "
                                 f"at most {MAX_INT_BITS} are allowed")
    return value


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _repeat_size(left: Any, right: Any) -> None:
    """``left * right``: a sequence repeated, or two numbers multiplied."""
    for seq, times in ((left, right), (right, left)):
        if isinstance(seq, str) and isinstance(times, int):
            _check_text(len(seq) * max(times, 0), "a repeated string")
            return
        if isinstance(seq, list | tuple) and isinstance(times, int):
            _check_items(len(seq) * max(times, 0), "a repeated list")
            return
    if isinstance(left, int) and isinstance(right, int):
        _check_bits(_int(left).bit_length() + _int(right).bit_length(), "a product")


def _check_bits(bits: int, what: str) -> None:
    if bits > MAX_INT_BITS:
        raise TemplateLimitError(f"{what} would be a number of about {bits} bits; "
                                 f"at most {MAX_INT_BITS} are allowed")


def _power_size(base: Any, exponent: Any) -> None:
    if isinstance(base, int) and isinstance(exponent, int) and exponent > 0 and abs(base) > 1:
        _check_bits(base.bit_length() * exponent, "a power")


def _sum_size(left: Any, right: Any) -> None:
    if isinstance(left, str) and isinstance(right, str):
        _check_text(len(left) + len(right), "a joined string")
    elif isinstance(left, list | tuple) and isinstance(right, list | tuple):
        _check_items(len(left) + len(right), "a joined list")


def _percent_size(text: Any, args: Any) -> None:
    """``text % args``: refuse a width or precision past ``MAX_TEXT`` (or one taken from the args)."""
    if not isinstance(text, str):
        return
    for width, precision in _PERCENT_WIDTHS.findall(text):
        for number in (width, precision):
            if number == "*":
                raise TemplateLimitError("a '*' width in a % format is not allowed; write the width")
            if number and int(number) > MAX_TEXT:
                _check_text(int(number), "a formatted string")


def _format_spec_size(text: str) -> None:
    """``text.format(...)``: refuse widths past ``MAX_TEXT`` and widths taken from the arguments."""
    try:
        fields = list(string.Formatter().parse(text))
    except ValueError:
        return  # the format call itself reports the malformed format
    for _, _, spec, _ in fields:
        if not spec:
            continue
        if "{" in spec:
            raise TemplateLimitError("a width taken from an argument ('{:{w}}') is not allowed; write it")
        for number in _SPEC_NUMBERS.findall(spec):
            _check_text(int(number), "a formatted string")


def _join_size(separator: str, items: list[Any]) -> None:
    _check_items(len(items), "a joined list")
    total = len(separator) * max(len(items) - 1, 0)
    total += sum(len(item) if isinstance(item, str) else 16 for item in items)
    _check_text(total, "a joined string")


def _replace_size(text: str, old: Any, new: Any, count: Any = -1) -> None:
    if not (isinstance(old, str) and isinstance(new, str)) or len(new) <= len(old):
        return
    found = len(text) + 1 if old == "" else text.count(old)
    if isinstance(count, int) and count >= 0:
        found = min(found, count)
    _check_text(len(text) + found * (len(new) - len(old)), "a replaced string")


# --- string methods called from templates -----------------------------------------------------

def _str_method_size(method: str, text: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Check what a padding or repeating ``str`` method would build, before it runs."""
    if method in ("center", "ljust", "rjust", "zfill"):
        width = args[0] if args else kwargs.get("width", 0)
        _check_text(_int(width), f"str.{method}()")
    elif method == "expandtabs":
        size = args[0] if args else kwargs.get("tabsize", 8)
        _check_text(len(text) + text.count("\t") * max(_int(size), 0), "str.expandtabs()")
    elif method == "replace" and len(args) >= 2:
        _replace_size(text, args[0], args[1], args[2] if len(args) > 2 else kwargs.get("count", -1))


# --- filters ----------------------------------------------------------------------------------

def _filter_check(name: str, bound: dict[str, Any]) -> None:
    """Check a growth filter's arguments (``bound``: its parameters by name) before it runs."""
    value = bound.get("value", bound.get("s"))
    if name == "center":
        _check_text(_int(bound.get("width", 80)), "center")
    elif name == "indent" and isinstance(value, str):
        width = bound.get("width", 4)
        pad = len(width) if isinstance(width, str) else _int(width)
        _check_text(len(value) + pad * (value.count("\n") + 1), "indent")
    elif name == "format":
        _percent_size(value, None)
    elif name == "replace" and isinstance(value, str):
        _replace_size(value, bound.get("old"), bound.get("new"), bound.get("count") or -1)
    elif name == "slice" or (name == "batch" and bound.get("fill_with") is not None):
        # slice builds that many lists; batch pads its last one to linecount items
        _check_items(_int(bound.get("slices", bound.get("linecount", 0))), name)


_GROWTH_FILTERS = frozenset({"center", "indent", "format", "replace", "batch", "slice", "join", "sum"})


def _limited_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    signature = _signature(func) if name in _GROWTH_FILTERS else None

    @wraps(func)  # keeps jinja's pass_context / pass_eval_context marks
    def run(*args: Any, **kwargs: Any) -> Any:
        _tick()
        if signature is not None:
            bound = signature.bind(*args, **kwargs)
            folded = "value" if name == "join" else "iterable"
            if name in ("join", "sum") and folded in bound.arguments:
                items = list(bound.arguments[folded])  # measured before the fold, then folded
                bound.arguments[folded] = items
                _measure_fold(name, items, bound.arguments)
            _filter_check(name, bound.arguments)
            args, kwargs = bound.args, bound.kwargs
        return _checked(func(*args, **kwargs), f"the {name} filter's result")

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
        _join_size(separator if isinstance(separator, str) else "", items)
    elif not isinstance(arguments.get("start", 0), int | float):
        # sum(start=[] or '') concatenates, and re-copies the total on every item
        _check_items(sum(len(item) if isinstance(item, list | tuple | str) else 1 for item in items),
                     "a summed list")


# --- the environment --------------------------------------------------------------------------

def _bounded_range(*args: int) -> range:
    _tick()
    numbers = range(*args)
    _check_items(len(numbers), "range()")
    return numbers


@pass_context
def _loop_items(context: Context, iterable: Iterable[Any]) -> Iterator[Any]:
    """Every ``for`` loop iterates through here: counted, and the deadline checked, per item."""
    current = _BUDGET.get()
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
    current = _BUDGET.get()
    if current is not None:
        current.emitted += len(value) if isinstance(value, str) else len(str(value))
        if current.emitted > MAX_TEXT:
            raise TemplateLimitError(f"a render emitted more than {MAX_TEXT} characters")
        current.tick()
    return value


@pass_context
def _concatenated(context: Context, value: Any) -> Any:
    return _checked(value, "a '~' concatenation")


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
        _tick()
        if operator == "*":
            _repeat_size(left, right)
        elif operator == "**":
            _power_size(left, right)
        elif operator == "+":
            _sum_size(left, right)
        elif operator == "%":
            _percent_size(left, right)
        return self.binop_table[operator](left, right)

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        _tick()
        owner = getattr(__obj, "__self__", None)
        if isinstance(owner, str):
            method = getattr(__obj, "__name__", "")
            _str_method_size(method, owner, args, kwargs)
            if method == "join" and args:
                items = list(args[0])
                _join_size(owner, items)
                args = (items, *args[1:])
        return _checked(super().call(__context, __obj, *args, **kwargs), "a call's result")

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """``str.format`` and ``format_map``, sandboxed by Jinja, with their widths checked first."""
        wrapper = super().wrap_str_format(value)
        if wrapper is None:
            return None
        sandboxed: Callable[..., str] = wrapper
        template: str = value.__self__

        def checked(*args: Any, **kwargs: Any) -> str:
            _tick()
            _format_spec_size(template)
            text = sandboxed(*args, **kwargs)
            _check_text(len(text), "a formatted string")
            return text

        return checked

    def getattr(self, obj: Any, attribute: str) -> Any:
        _tick()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        _tick()
        return super().getitem(obj, argument)
