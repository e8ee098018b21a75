"""The engine's errors: inputs with located problems (rules, configuration, events).

The root, ``DespachoError``, and the connector failure kinds live in the
top-level ``errors`` module, below every layer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from errors import DespachoError

if TYPE_CHECKING:
    from engine.language.problems import Problem

__all__ = [
    "ConfigError",
    "DespachoError",
    "EventInputError",
    "RuleSetError",
    "StoredRulesError",
    "is_rust_panic",
]


class ProblemsError(DespachoError):
    """Raised when an input has one or more located problems."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems)
        count = len(self.problems)
        super().__init__(f"{count} problem{'s' if count != 1 else ''}")


class RuleSetError(ProblemsError):
    """A rule set did not load; the previous one (if any) stays active."""


class StoredRulesError(DespachoError):
    """A stored rule set (``accepted_rule_sets``) cannot be written back to files: a name that would
    leave its folder, a value that is not text, or more than the limits allow."""


class ConfigError(ProblemsError):
    """The configuration file or its environment overrides are invalid."""


class EventInputError(ProblemsError):
    """An events file (for dry-run, test or emit) is malformed."""


def is_rust_panic(exc: BaseException) -> bool:
    """A panic inside a Rust extension (the CEL library), raised by pyo3 as ``PanicException``.

    That class derives from ``BaseException``, not ``Exception``, so ``except Exception`` lets it
    through and it ends the thread that called; it has no module to import it from, so it is
    known by name. Callers catch ``BaseException`` at the boundary, keep what this accepts and
    re-raise the rest (Ctrl-C, exit).
    """
    kind = type(exc)
    return kind.__name__ == "PanicException" and kind.__module__ == "pyo3_runtime"
