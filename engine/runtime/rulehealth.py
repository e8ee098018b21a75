"""Do the rule files on disk load, and what does a daemon run if they do not? For ``despacho status``.

``status`` runs in its own process, so it cannot ask a daemon which set it holds; it asks what a
daemon starting or reloading now would do with the same files: load them (ok), run the newest
accepted set from the database (degraded), or refuse to start (no set was ever accepted).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlmodel import Session

from connectors.http import HttpSettings
from engine.language.loader import load_rules
from engine.runtime.rulefiles import read_snapshot
from engine.runtime.ruleversion import ruleset_version
from store.rulesets import newest_accepted

MAX_PROBLEMS = 20


@dataclass
class RulesHealth:
    state: str  # "ok", "degraded" (the newest accepted set runs) or "refused" (nothing to run)
    rules: int = 0  # in the files when they load, else in the newest accepted set
    version: str | None = None  # of the files when they load, else of the newest accepted set
    accepted_at: datetime | None = None  # of the newest accepted set, when one runs instead
    problems: list[str] = field(default_factory=list)  # the files' problems, FILE:LINE:COL: PATH: MESSAGE
    problem_count: int = 0


def rules_health(session: Session, rules_path: Path, templates_path: Path,
                 http_settings: HttpSettings | None = None) -> RulesHealth:
    result = load_rules([rules_path], templates_path, http_settings=http_settings)
    if result.ok:
        digest = read_snapshot(rules_path, templates_path).digest
        return RulesHealth("ok", len(result.ruleset), ruleset_version(rules_path, templates_path, digest))
    problems = [f"{p.file}:{p.line}:{p.column}: {p.path}: {p.message}" for p in result.problems]
    accepted = newest_accepted(session)
    if accepted is None:
        return RulesHealth("refused", problems=problems[:MAX_PROBLEMS], problem_count=len(problems))
    return RulesHealth("degraded", accepted.rules, accepted.version, accepted.accepted_at,
                       problems[:MAX_PROBLEMS], len(problems))
