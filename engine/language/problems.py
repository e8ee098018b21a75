"""One problem type for every input error: file, line, column, path, message, hint."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from enum import StrEnum

Path = tuple[str | int, ...]


class Severity(StrEnum):
    """An error refuses the rule set; a warning is reported and the rules still load.

    Warnings are what the engine cannot be sure of (an event type posted by an
    outside system, a field its payload may carry): ``validate --strict`` makes
    them errors for CI.
    """

    error = "error"
    warning = "warning"


@dataclass(frozen=True, order=True)
class Problem:
    """A located problem in a user's input.

    Lines and columns are 1-based; 0 means unknown (for example a file that
    could not be read at all).
    """

    file: str
    line: int = 0
    column: int = 0
    path: str = ""
    message: str = ""
    hint: str | None = field(default=None, compare=False)
    severity: Severity = field(default=Severity.error, compare=False)

    @property
    def is_warning(self) -> bool:
        return self.severity is Severity.warning

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def format_path(path: Path) -> str:
    """Render a data path the way users read it: ``rules[0].do[1].email.send``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """A hint naming the closest known word, or ``None`` when nothing is close."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else None
