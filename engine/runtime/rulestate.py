"""The active rule set of a running process, replaced only by a rule set with no problems.

A reload never raises: a rule set with problems, a loader bug or a panic in the CEL library
all leave the previous set in force and are kept as ``last_error`` (the watcher thread that
calls ``reload`` must outlive any rule file). What is in force is described by ``state()``:
the set, when it was loaded, a digest of the files it was loaded from and its version (git
commit or content hash), so ``GET /v1/rules`` shows what runs rather than what the files on
disk would load.

Every set accepted is stored in the database with its files (``store.rulesets``). A process
that starts while the files on disk do not load starts with the newest stored set instead,
written back to a private folder and read by the same loader, and is *degraded* until a
reload from the files succeeds; only when no set was ever stored does it refuse to start.
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
import structlog

from connectors.http import HttpSettings
from engine.errors import RuleSetError, StoredRulesError, is_rust_panic
from engine.language.loader import load_ruleset
from engine.language.problems import Problem
from engine.language.ruleset import RuleSet
from engine.language.templating import TemplateStore
from engine.runtime.rulefiles import Snapshot, materialise, read_snapshot
from engine.runtime.ruleversion import ruleset_version
from store.db import session_scope
from store.models.rulesets import AcceptedRuleSet
from store.rulesets import newest_accepted, record_accepted

log = structlog.get_logger("despacho.rules")


@dataclass
class ReloadResult:
    ok: bool
    rules: int
    problems: list[str]
    digest: str | None = None  # of the files loaded (refused or now in force)


@dataclass(frozen=True)
class Offered:
    """What the files on disk offer: their digest and version, whether they load, and why not."""

    digest: str
    version: str
    ok: bool
    problems: tuple[str, ...]


@dataclass(frozen=True)
class ReloadError:
    """Why the last reload was refused; cleared by the next good one."""

    at: datetime
    problems: list[Problem] = field(default_factory=list)


@dataclass(frozen=True)
class StoredOrigin:
    """The set in force was started from the database: the files on disk did not load at start."""

    accepted_at: datetime
    folder: Path  # where its files were written back (private, removed when the process exits)


@dataclass(frozen=True)
class ActiveRules:
    """The rule set in force, when it was loaded, a digest of its files, and the last refusal."""

    ruleset: RuleSet
    loaded_at: datetime
    digest: str
    reload_error: ReloadError | None
    version: str = ""
    stored: StoredOrigin | None = None
    templates: TemplateStore | None = None  # the templates of this set (None: not from a holder)

    @property
    def degraded(self) -> bool:
        """The files on disk do not load, so an older set runs (the stored one, or the one a refused
        reload kept); ``reload_error`` says why, and a good reload ends it."""
        return self.reload_error is not None


class RuleSetHolder:
    """Holds the current rule set; ``reload`` keeps the previous one when the new one is bad.

    With ``db``, every accepted set is stored, and a start with files that do not load takes
    the newest stored set (degraded) instead of refusing.
    """

    def __init__(self, rules_path: Path, templates_path: Path, http_settings: HttpSettings | None = None,
                 db: sa.Engine | None = None) -> None:
        self.rules_path = Path(rules_path)
        self.templates_path = Path(templates_path)
        # the same judgement of static URLs as `despacho validate`, so both accept the same rules
        self.http_settings = http_settings
        self.db = db
        self._lock = threading.Lock()
        self._disk_templates = TemplateStore(self.templates_path)
        # written-back files of a stored set: kept until exit, a step may still render from them
        self._folders: list[tempfile.TemporaryDirectory[str]] = []
        self._unsaved: tuple[Snapshot, str, int] | None = None
        self._pending: tuple[RuleSet, Snapshot] | None = None  # loaded, waiting for the other daemons
        self._active = self._start()

    def __call__(self) -> RuleSet:
        return self._active.ruleset

    def state(self) -> ActiveRules:
        return self._active

    def templates(self) -> TemplateStore:
        """The message templates of the set in force (the stored ones when it was started from them)."""
        return self._active.templates or self._disk_templates

    # --- start ------------------------------------------------------------------------------------

    def _start(self) -> ActiveRules:
        snapshot = read_snapshot(self.rules_path, self.templates_path)
        try:
            fresh = self._load_guarded()
        except RuleSetError as exc:
            return self._start_from_stored(exc.problems)
        active = self._accepted(fresh, snapshot)
        log.info("rules_loaded", rules=len(fresh), version=active.version, digest=snapshot.digest[:12])
        self._save(snapshot, active.version, len(fresh))
        return active

    def _start_from_stored(self, problems: list[Problem]) -> ActiveRules:
        """The newest stored set, degraded; ``RuleSetError`` (the files' problems) when there is none."""
        stored = self._newest_stored(problems)
        if stored is None:
            raise RuleSetError(problems)
        folder = tempfile.TemporaryDirectory(prefix="despacho-rules-")
        try:
            rules_dir, templates_dir = materialise(stored.files, Path(folder.name))
            loaded = self._load_guarded(lambda: load_ruleset([rules_dir], templates_dir,
                                                             http_settings=self.http_settings))
            ruleset = _shown_as_stored(loaded, rules_dir)
        except (RuleSetError, StoredRulesError) as exc:
            folder.cleanup()
            why = "; ".join(_problem_line(p) for p in exc.problems[:5]) if isinstance(exc, RuleSetError) \
                else str(exc)
            raise RuleSetError([*problems, Problem(
                str(self.rules_path), message=f"the last accepted rule set ({stored.version}) does not load "
                f"either: {why}"[:1000], hint="fix the rule files; `despacho validate` lists their problems")]
            ) from exc
        self._folders.append(folder)
        ruleset.version = stored.version
        now = datetime.now(UTC)
        origin = StoredOrigin(stored.accepted_at, Path(folder.name))
        active = ActiveRules(ruleset, now, stored.digest, ReloadError(now, sorted(problems)), stored.version,
                             origin, TemplateStore(templates_dir))
        log.error("rules_degraded", version=stored.version, accepted_at=stored.accepted_at.isoformat(),
                  rules=len(ruleset), problems=[_problem_line(p) for p in sorted(problems)][:50],
                  fix="fix the rule files; the daemon reloads them when they change")
        return active

    def _newest_stored(self, problems: list[Problem]) -> AcceptedRuleSet | None:
        if self.db is None:
            return None
        try:
            with session_scope(self.db) as session:
                return newest_accepted(session)
        except sa.exc.SQLAlchemyError as exc:
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:300]
            raise RuleSetError([*problems, Problem(
                str(self.rules_path), message=f"the last accepted rule set cannot be read: {reason}",
                hint="the database must answer (and be migrated) to start with it")]) from exc

    # --- reload -----------------------------------------------------------------------------------

    def reload(self) -> ReloadResult:
        with self._lock:
            current = self._active
            # read before loading: a file changed meanwhile makes the next reload
            snapshot = read_snapshot(self.rules_path, self.templates_path)
            try:
                fresh = self._load_guarded()
            except RuleSetError as exc:
                return self._refused(current, exc.problems, snapshot.digest)
            self._active = self._accepted(fresh, snapshot)
            log.info("rules_reloaded", rules=len(fresh), version=self._active.version,
                     digest=snapshot.digest[:12])
            self._save(snapshot, self._active.version, len(fresh))
            return ReloadResult(True, len(fresh), [], snapshot.digest)

    # --- a reload other daemons must agree to (engine.runtime.rollout) ----------------------------

    def prepare(self) -> Offered:
        """Load the files on disk without putting them in force: a loaded set waits as ``pending``
        until ``accept_pending``; a refused one is reported (and marks this daemon degraded) as
        ``reload`` would."""
        with self._lock:
            snapshot = read_snapshot(self.rules_path, self.templates_path)
            version = ruleset_version(self.rules_path, self.templates_path, snapshot.digest)
            if snapshot.digest == self._active.digest and self._active.reload_error is None:
                self._pending = None
                return Offered(snapshot.digest, version, True, ())
            try:
                fresh = self._load_guarded()
            except RuleSetError as exc:
                self._pending = None
                result = self._refused(self._active, exc.problems, snapshot.digest)
                return Offered(snapshot.digest, version, False, tuple(result.problems))
            self._pending = (fresh, snapshot)
            return Offered(snapshot.digest, version, True, ())

    @property
    def pending_digest(self) -> str | None:
        pending = self._pending
        return pending[1].digest if pending is not None else None

    def accept_pending(self, digest: str) -> ReloadResult | None:
        """Put the pending set in force if it is still the one of ``digest``; None when it is not."""
        with self._lock:
            pending = self._pending
            if pending is None or pending[1].digest != digest:
                return None
            fresh, snapshot = pending
            self._pending = None
            self._active = self._accepted(fresh, snapshot)
            log.info("rules_reloaded", rules=len(fresh), version=self._active.version,
                     digest=snapshot.digest[:12])
            self._save(snapshot, self._active.version, len(fresh))
            return ReloadResult(True, len(fresh), [], digest)

    def drop_pending(self, why: list[str]) -> ReloadResult:
        """Another daemon cannot load the pending set: it never goes into force here either."""
        with self._lock:
            pending, self._pending = self._pending, None
            problems = [Problem(str(self.rules_path), message=line[:1000]) for line in why]
            return self._refused(self._active, problems, pending[1].digest if pending else None)

    def _accepted(self, fresh: RuleSet, snapshot: Snapshot) -> ActiveRules:
        version = ruleset_version(self.rules_path, self.templates_path, snapshot.digest)
        fresh.version = version  # before anyone sees the set: each run records the version it ran under
        return ActiveRules(fresh, datetime.now(UTC), snapshot.digest, None, version, None,
                           self._disk_templates)

    def _refused(self, current: ActiveRules, problems: list[Problem],
                 digest: str | None = None) -> ReloadResult:
        lines = [_problem_line(p) for p in problems]
        log.error("rules_rejected", problems=lines[:50], kept=len(current.ruleset), running=current.version,
                  degraded=True)
        error = ReloadError(datetime.now(UTC), sorted(problems))
        self._active = replace(current, reload_error=error)
        return ReloadResult(False, len(current.ruleset), lines, digest)

    def _load_guarded(self, load: Callable[[], RuleSet] | None = None) -> RuleSet:
        """The set on disk (or from ``load``), or ``RuleSetError``: a loader bug or a CEL panic counts
        as a problem too."""
        try:
            return (load or self._load)()
        except RuleSetError:
            raise
        except Exception as exc:  # a loader bug must not end the watcher: keep the set, report
            log.exception("rules_load_failed")
            raise RuleSetError([self._failure(exc)]) from exc
        except BaseException as exc:
            if not is_rust_panic(exc):
                raise
            log.error("rules_load_panicked", error=str(exc)[:200])
            raise RuleSetError([self._failure(exc)]) from None

    def _failure(self, exc: BaseException) -> Problem:
        first = (str(exc).strip().splitlines() or [""])[0][:300]
        return Problem(str(self.rules_path), message=f"loading failed: {type(exc).__name__}: {first}",
                       hint="the rules in force stay; this is a bug worth reporting")

    def _load(self) -> RuleSet:
        return load_ruleset([self.rules_path], self.templates_path, http_settings=self.http_settings)

    # --- storing accepted sets --------------------------------------------------------------------

    def _save(self, snapshot: Snapshot, version: str, rules: int) -> None:
        if self.db is None:
            return
        if not snapshot.storable:
            log.warning("rules_not_saved", reason="over the size limits of a stored rule set",
                        files=len(snapshot.files))
            return
        self._unsaved = (snapshot, version, rules)
        self.save_pending()

    def save_pending(self) -> bool:
        """Store the last accepted set if an earlier attempt failed (the database was away); True when
        nothing is left to store. The daemon's rule watcher calls this on every tick."""
        pending = self._unsaved
        if pending is None or self.db is None:
            return True
        snapshot, version, rules = pending
        try:
            with session_scope(self.db) as session:
                row = record_accepted(session, digest=snapshot.digest, version=version, rules=rules,
                                      files=snapshot.files)
        except sa.exc.SQLAlchemyError as exc:
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:300]
            log.warning("rules_not_saved", reason=reason, version=version)
            return False
        if self._unsaved is pending:
            self._unsaved = None
        if row is not None:
            log.info("rules_saved", version=version, digest=snapshot.digest[:12],
                     omitted=snapshot.omitted[:20])
        return True

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

    def _files(self) -> list[Path]:
        return [path for root in (self.rules_path, self.templates_path)
                for path in sorted(root.rglob("*")) if path.is_file()]


def _problem_line(problem: Problem) -> str:
    return f"{problem.file}:{problem.line}:{problem.column}: {problem.path}: {problem.message}"


def _shown_as_stored(ruleset: RuleSet, rules_dir: Path) -> RuleSet:
    """The set with its rules' files named as stored (``rules/x.yaml``), not by the private folder."""
    def name(file: str) -> str:
        try:
            return "rules/" + Path(file).resolve().relative_to(rules_dir.resolve()).as_posix()
        except ValueError:
            return file
    return RuleSet([replace(rule, file=name(rule.file)) for rule in ruleset.rules],
                   [name(file) for file in ruleset.files])
