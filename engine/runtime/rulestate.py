"""The active rule set of a running process, replaced only by a rule set with no problems.

A reload never raises: a rule set with problems, a loader bug or a panic in the CEL library
all leave the previous set in force and are kept as ``last_error`` (the watcher thread that
calls ``reload`` must outlive any rule file). What is in force is described by ``state()``:
the set, when it was loaded and a digest of the files it was loaded from, so ``GET /v1/rules``
shows what runs rather than what the files on disk would load.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import structlog

from connectors.http import HttpSettings
from engine.errors import RuleSetError, is_rust_panic
from engine.language.loader import load_ruleset
from engine.language.problems import Problem
from engine.language.ruleset import RuleSet

log = structlog.get_logger("despacho.rules")


@dataclass
class ReloadResult:
    ok: bool
    rules: int
    problems: list[str]


@dataclass(frozen=True)
class ReloadError:
    """Why the last reload was refused; cleared by the next good one."""

    at: datetime
    problems: list[Problem] = field(default_factory=list)


@dataclass(frozen=True)
class ActiveRules:
    """The rule set in force, when it was loaded, a digest of its files, and the last refusal."""

    ruleset: RuleSet
    loaded_at: datetime
    digest: str
    reload_error: ReloadError | None


class RuleSetHolder:
    """Holds the current rule set; ``reload`` keeps the previous one when the new one is bad."""

    def __init__(self, rules_path: Path, templates_path: Path, http_settings: HttpSettings | None = None
                 ) -> None:
        self.rules_path = Path(rules_path)
        self.templates_path = Path(templates_path)
        # the same judgement of static URLs as `despacho validate`, so both accept the same rules
        self.http_settings = http_settings
        self._lock = threading.Lock()
        digest = self.digest()
        self._active = ActiveRules(self._load(),
                                   datetime.now(UTC), digest, None)

    def __call__(self) -> RuleSet:
        return self._active.ruleset

    def state(self) -> ActiveRules:
        return self._active

    def reload(self) -> ReloadResult:
        with self._lock:
            current = self._active
            digest = self.digest()  # before loading: a file changed meanwhile makes the next reload
            try:
                fresh = self._load()
            except RuleSetError as exc:
                return self._refused(current, exc.problems)
            except Exception as exc:  # a loader bug must not end the watcher: keep the set, report
                log.exception("rules_reload_failed", kept=len(current.ruleset))
                return self._refused(current, [self._failure(exc)])
            except BaseException as exc:
                if not is_rust_panic(exc):
                    raise
                log.error("rules_reload_panicked", error=str(exc)[:200], kept=len(current.ruleset))
                return self._refused(current, [self._failure(exc)])
            self._active = ActiveRules(fresh, datetime.now(UTC), digest, None)
            log.info("rules_reloaded", rules=len(fresh), digest=digest[:12])
            return ReloadResult(True, len(fresh), [])

    def _refused(self, current: ActiveRules, problems: list[Problem]) -> ReloadResult:
        lines = [f"{p.file}:{p.line}:{p.column}: {p.path}: {p.message}" for p in problems]
        log.error("rules_rejected", problems=lines[:50], kept=len(current.ruleset))
        error = ReloadError(datetime.now(UTC), sorted(problems))
        self._active = ActiveRules(current.ruleset, current.loaded_at, current.digest, error)
        return ReloadResult(False, len(current.ruleset), lines)

    def _failure(self, exc: BaseException) -> Problem:
        first = (str(exc).strip().splitlines() or [""])[0][:300]
        return Problem(str(self.rules_path), message=f"reload failed: {type(exc).__name__}: {first}",
                       hint="the previous rules stay in force; this is a bug worth reporting")

    def _load(self) -> RuleSet:
        return load_ruleset([self.rules_path], self.templates_path, http_settings=self.http_settings)

    def fingerprint(self) -> tuple[tuple[str, int, int], ...]:
        """Names, sizes and modification times of rule and template files, to notice a change."""
        found = []
        for path in self._files():
            try:
                stat = path.stat()
            except FileNotFoundError:  # removed while we looked: the next look sees it gone
                continue
            found.append((str(path), stat.st_size, stat.st_mtime_ns))
        return tuple(found)

    def digest(self) -> str:
        """SHA-256 over the names and contents of the rule and template files."""
        hashed = hashlib.sha256()
        for path in self._files():
            try:
                content = path.read_bytes()
            except OSError:
                continue
            hashed.update(str(path).encode("utf-8", "surrogateescape") + b"\0")
            hashed.update(hashlib.sha256(content).digest())
        return hashed.hexdigest()

    def _files(self) -> list[Path]:
        return [path for root in (self.rules_path, self.templates_path)
                for path in sorted(root.rglob("*")) if path.is_file()]
