"""How much one render may build, and the checks that refuse a value before it is built.

The numbers are the engine's render limits (documented in docs/rules.md § Limits); the checks
are called by the sandbox (``sandbox.LimitedSandbox``) before an operator, a method or a filter
builds its result, because a single C-level operation (``'a' * 10**9``) cannot be interrupted
once it runs. ``Budget`` is what one render, or one action call's renders, may still use:
its deadline, loop iterations and emitted characters.
"""

from __future__ import annotations

import re
import string
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

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


def count_output(length: int) -> None:
    """Text a render emitted without Jinja (``templating``): counted as ``sandbox`` counts Jinja's."""
    current = _BUDGET.get()
    if current is not None:
        current.emitted += length
        if current.emitted > MAX_TEXT:
            raise TemplateLimitError(f"a render emitted more than {MAX_TEXT} characters")
        current.tick()


def tick() -> None:
    current = _BUDGET.get()
    if current is not None:
        current.tick()


# --- size checks ------------------------------------------------------------------------------

def check_text(length: int, what: str) -> None:
    if length > MAX_TEXT:
        raise TemplateLimitError(f"{what} would be {length} characters long; at most {MAX_TEXT} are allowed")


def check_items(count: int, what: str) -> None:
    if count > MAX_ITEMS:
        raise TemplateLimitError(f"{what} would have {count} items; at most {MAX_ITEMS} are allowed")


def checked(value: Any, what: str) -> Any:
    """``value`` when it is within the size limits (strings, lists, tuples and ints are measured)."""
    if isinstance(value, str):
        check_text(len(value), what)
    elif isinstance(value, list | tuple | dict | set):
        check_items(len(value), what)
    elif isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > MAX_INT_BITS:
        raise TemplateLimitError(f"{what} would be a number of {value.bit_length()} bits; "
                                 f"at most {MAX_INT_BITS} are allowed")
    return value


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def repeat_size(left: Any, right: Any) -> None:
    """``left * right``: a sequence repeated, or two numbers multiplied."""
    for seq, times in ((left, right), (right, left)):
        if isinstance(seq, str) and isinstance(times, int):
            check_text(len(seq) * max(times, 0), "a repeated string")
            return
        if isinstance(seq, list | tuple) and isinstance(times, int):
            check_items(len(seq) * max(times, 0), "a repeated list")
            return
    if isinstance(left, int) and isinstance(right, int):
        _check_bits(_int(left).bit_length() + _int(right).bit_length(), "a product")


def _check_bits(bits: int, what: str) -> None:
    if bits > MAX_INT_BITS:
        raise TemplateLimitError(f"{what} would be a number of about {bits} bits; "
                                 f"at most {MAX_INT_BITS} are allowed")


def power_size(base: Any, exponent: Any) -> None:
    if isinstance(base, int) and isinstance(exponent, int) and exponent > 0 and abs(base) > 1:
        _check_bits(base.bit_length() * exponent, "a power")


def sum_size(left: Any, right: Any) -> None:
    if isinstance(left, str) and isinstance(right, str):
        check_text(len(left) + len(right), "a joined string")
    elif isinstance(left, list | tuple) and isinstance(right, list | tuple):
        check_items(len(left) + len(right), "a joined list")


def percent_size(text: Any, args: Any) -> None:
    """``text % args``: refuse a width or precision past ``MAX_TEXT`` (or one taken from the args)."""
    if not isinstance(text, str):
        return
    for width, precision in _PERCENT_WIDTHS.findall(text):
        for number in (width, precision):
            if number == "*":
                raise TemplateLimitError("a '*' width in a % format is not allowed; write the width")
            if number and int(number) > MAX_TEXT:
                check_text(int(number), "a formatted string")


def format_spec_size(text: str) -> None:
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
            check_text(int(number), "a formatted string")


def join_size(separator: str, items: list[Any]) -> None:
    check_items(len(items), "a joined list")
    total = len(separator) * max(len(items) - 1, 0)
    total += sum(len(item) if isinstance(item, str) else 16 for item in items)
    check_text(total, "a joined string")


def _replace_size(text: str, old: Any, new: Any, count: Any = -1) -> None:
    if not (isinstance(old, str) and isinstance(new, str)) or len(new) <= len(old):
        return
    found = len(text) + 1 if old == "" else text.count(old)
    if isinstance(count, int) and count >= 0:
        found = min(found, count)
    check_text(len(text) + found * (len(new) - len(old)), "a replaced string")


# --- string methods called from templates -----------------------------------------------------

def str_method_size(method: str, text: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Check what a padding or repeating ``str`` method would build, before it runs."""
    if method in ("center", "ljust", "rjust", "zfill"):
        width = args[0] if args else kwargs.get("width", 0)
        check_text(_int(width), f"str.{method}()")
    elif method == "expandtabs":
        size = args[0] if args else kwargs.get("tabsize", 8)
        check_text(len(text) + text.count("\t") * max(_int(size), 0), "str.expandtabs()")
    elif method == "replace" and len(args) >= 2:
        _replace_size(text, args[0], args[1], args[2] if len(args) > 2 else kwargs.get("count", -1))


def filter_check(name: str, bound: dict[str, Any]) -> None:
    """Check a growth filter's arguments (``bound``: its parameters by name) before it runs."""
    value = bound.get("value", bound.get("s"))
    if name == "center":
        check_text(_int(bound.get("width", 80)), "center")
    elif name == "indent" and isinstance(value, str):
        width = bound.get("width", 4)
        pad = len(width) if isinstance(width, str) else _int(width)
        check_text(len(value) + pad * (value.count("\n") + 1), "indent")
    elif name == "format":
        percent_size(value, None)
    elif name == "replace" and isinstance(value, str):
        _replace_size(value, bound.get("old"), bound.get("new"), bound.get("count") or -1)
    elif name == "slice" or (name == "batch" and bound.get("fill_with") is not None):
        # slice builds that many lists; batch pads its last one to linecount items
        check_items(_int(bound.get("slices", bound.get("linecount", 0))), name)


def current_budget() -> Budget | None:
    """The budget of the render running in this thread (or task), if any."""
    return _BUDGET.get()
