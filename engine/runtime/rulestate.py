"""The active rule set of a running process, replaced only by a rule set with no problems."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import structlog

from connectors.http import HttpSettings
from engine.errors import RuleSetError
from engine.language.loader import load_ruleset
from engine.language.ruleset import RuleSet

log = structlog.get_logger("despacho.rules")


@dataclass
class ReloadResult:
    ok: bool
    rules: int
    problems: list[str]


class RuleSetHolder:
    """Holds the current rule set; ``reload`` keeps the previous one when the new one is bad."""

    def __init__(self, rules_path: Path, templates_path: Path, http_settings: HttpSettings | None = None
                 ) -> None:
        self.rules_path = Path(rules_path)
        self.templates_path = Path(templates_path)
        # the same judgement of static URLs as `despacho validate`, so both accept the same rules
        self.http_settings = http_settings
        self._lock = threading.Lock()
        self._current = self._load()

    def __call__(self) -> RuleSet:
        return self._current

    def reload(self) -> ReloadResult:
        with self._lock:
            try:
                fresh = self._load()
            except RuleSetError as exc:
                lines = [f"{p.file}:{p.line}:{p.column}: {p.path}: {p.message}" for p in exc.problems]
                log.error("rules_rejected", problems=lines, kept=len(self._current))
                return ReloadResult(False, len(self._current), lines)
            self._current = fresh
            log.info("rules_reloaded", rules=len(fresh))
            return ReloadResult(True, len(fresh), [])

    def _load(self) -> RuleSet:
        return load_ruleset([self.rules_path], self.templates_path, http_settings=self.http_settings)

    def fingerprint(self) -> tuple[tuple[str, int, int], ...]:
        """Names, sizes and modification times of rule and template files, to notice a change."""
        found = []
        for root in (self.rules_path, self.templates_path):
            for path in sorted(root.rglob("*")):
                if path.is_file():
                    stat = path.stat()
                    found.append((str(path), stat.st_size, stat.st_mtime_ns))
        return tuple(found)
