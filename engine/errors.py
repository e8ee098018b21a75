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
]


class ProblemsError(DespachoError):
    """Raised when an input has one or more located problems."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems)
        count = len(self.problems)
        super().__init__(f"{count} problem{'s' if count != 1 else ''}")


class RuleSetError(ProblemsError):
    """A rule set did not load; the previous one (if any) stays active."""


class ConfigError(ProblemsError):
    """The configuration file or its environment overrides are invalid."""


class EventInputError(ProblemsError):
    """An events file (for dry-run, test or emit) is malformed."""
