"""Reading rule files into a compiled ``RuleSet``; every problem of every file at once.

``load_rules`` always returns what it found (for ``despacho validate``);
``load_ruleset`` refuses to return a rule set that has any error, so a bad
file never half-loads into a running daemon. Warnings (an event type or a
data field the catalogue does not know) never refuse a rule set.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path as FsPath

from pydantic import ValidationError

from connectors.http import HttpSettings
from engine.errors import RuleSetError
from engine.language.compiler import RuleCompiler
from engine.language.custom_events import build_catalogue
from engine.language.models import Rule, RuleFile
from engine.language.partial import parsed_parts
from engine.language.problems import Problem
from engine.language.ruleset import CompiledRule, RuleSet
from engine.language.templating import TemplateStore
from engine.language.validation import model_vocabulary, problems_from_validation_error
from engine.language.yamlsafe import Document, YamlInputError, load_file

RULE_SUFFIXES = (".yaml", ".yml")
TESTS_FOLDER = "tests"
_VOCABULARY = sorted(model_vocabulary(Rule, RuleFile))


@dataclass
class LoadResult:
    ruleset: RuleSet
    problems: list[Problem] = field(default_factory=list)  # errors
    warnings: list[Problem] = field(default_factory=list)

    @property
    def everything(self) -> list[Problem]:
        return sorted([*self.problems, *self.warnings])

    @property
    def ok(self) -> bool:
        return not self.problems


def discover(paths: Iterable[str | FsPath]) -> tuple[list[FsPath], list[Problem]]:
    """Rule files under ``paths`` (folders recursively, skipping ``tests/``), sorted."""
    files: list[FsPath] = []
    problems: list[Problem] = []
    for raw in paths:
        path = FsPath(raw)
        if path.is_file():
            files.append(path)
        elif path.is_dir():
            files.extend(_walk(path))
        else:
            problems.append(Problem(str(path), message="no such file or folder"))
    return sorted(dict.fromkeys(files)), problems


def _walk(folder: FsPath) -> list[FsPath]:
    found: list[FsPath] = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d != TESTS_FOLDER and not d.startswith("."))
        found.extend(FsPath(root) / n for n in names if n.endswith(RULE_SUFFIXES))
    return found


def display_name(path: FsPath) -> str:
    """Paths relative to the working directory when they are under it."""
    try:
        return str(path.resolve().relative_to(FsPath.cwd()))
    except ValueError:
        return str(path)


def load_rules(paths: Iterable[str | FsPath], templates_root: str | FsPath, *,
               http_settings: HttpSettings | None = None, warnings: bool = True) -> LoadResult:
    """Load and compile every rule file; rules with problems are left out of the set.

    With ``http_settings``, static URLs of ``http.request`` are judged by them (SSRF rules).
    ``warnings=False`` skips the checks that can only warn (event types, data paths): they
    never change which rules load, and locating them costs a second pass over a file.
    """
    with _no_cycle_collection():
        return _load_rules(paths, templates_root, http_settings, warnings)


@contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """Loading builds many objects that all live on and contain no garbage cycles; Python's cycle
    collector walked them again and again as they grew, a quarter of the time of 10,000 rules.
    Reference counting still frees what is dropped. Process-wide, for the few seconds of a load:
    a load running meanwhile in another thread only gets the collector back early."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _load_rules(paths: Iterable[str | FsPath], templates_root: str | FsPath,
                http_settings: HttpSettings | None, warnings: bool) -> LoadResult:
    files, problems = discover(paths)
    templates = TemplateStore(templates_root)
    rules: list[CompiledRule] = []
    first_seen: dict[str, tuple[str, int]] = {}
    docs = []
    for path in files:
        try:
            docs.append(load_file(path, display_name=display_name(path)))
        except YamlInputError as exc:
            problems.extend(exc.problems)
    # every file's event declarations first: a rule may listen to a type another file declares
    catalogue, declaration_problems = build_catalogue(docs)
    problems.extend(declaration_problems)
    for doc in docs:
        _check_duplicate_ids(doc, first_seen, problems)
        seen = {rule.id for rule in rules}
        compiler = RuleCompiler(doc, templates, http_settings=http_settings,
                                catalogue=catalogue if warnings else None)
        compiled = _compile_file(doc, compiler, problems, len(rules))
        rules.extend(r for r in compiled if r.id not in seen)
    found = sorted(set(problems))
    return LoadResult(RuleSet(rules, [display_name(p) for p in files]),
                      [p for p in found if not p.is_warning], [p for p in found if p.is_warning])


def load_ruleset(paths: Iterable[str | FsPath], templates_root: str | FsPath, *,
                 http_settings: HttpSettings | None = None) -> RuleSet:
    """The compiled rule set, or ``RuleSetError`` with every error (warnings are not looked for)."""
    result = load_rules(paths, templates_root, http_settings=http_settings, warnings=False)
    if result.problems:
        raise RuleSetError(result.problems)
    return result.ruleset


def _compile_file(doc: Document, compiler: RuleCompiler, problems: list[Problem],
                  start: int) -> list[CompiledRule]:
    if doc.data is None:
        problems.append(Problem(doc.file, 1, 1, "", "empty rule file", "add a 'rules:' list"))
        return []
    try:
        RuleFile.model_validate(doc.data)
    except ValidationError as exc:
        problems.extend(problems_from_validation_error(exc, doc, (), _VOCABULARY))
        if not (isinstance(doc.data, dict) and isinstance(doc.data.get("rules"), list)):
            return []
    compiled: list[CompiledRule] = []
    for index, raw in enumerate(doc.data["rules"]):
        path = ("rules", index)
        if not isinstance(raw, dict):
            continue  # the file's own check said so
        try:
            rule = Rule.model_validate(raw)
        except ValidationError as exc:
            problems.extend(problems_from_validation_error(exc, doc, path, _VOCABULARY))
            # the parts that did parse still get every other check, in the same run
            partial, all_triggers = parsed_parts(raw)
            compiler.compile(partial, path, start + len(compiled), whole=all_triggers)
            continue
        result = compiler.compile(rule, path, start + len(compiled))
        if result is not None:
            compiled.append(result)
    problems.extend(compiler.problems)
    return compiled


def _check_duplicate_ids(doc: Document, first_seen: dict[str, tuple[str, int]],
                         problems: list[Problem]) -> None:
    raw_rules = doc.data.get("rules") if isinstance(doc.data, dict) else None
    if not isinstance(raw_rules, list):
        return
    for index, raw in enumerate(raw_rules):
        rule_id = raw.get("id") if isinstance(raw, dict) else None
        if not isinstance(rule_id, str):
            continue
        line, _ = doc.position(("rules", index))
        if rule_id in first_seen:
            file, first_line = first_seen[rule_id]
            problems.append(doc.problem(("rules", index, "id"), f"duplicate rule id '{rule_id}'",
                                        f"first defined at {file}:{first_line}"))
        else:
            first_seen[rule_id] = (doc.file, line)
