"""The files a rule set loads from, as text: kept with an accepted set, written back to start from it.

A snapshot maps ``rules/<path>`` (the rule files the loader reads) and ``templates/<path>`` (every
template file) to their text, with a digest over names and contents that does not depend on where
the checkout lies, so every machine names the same files the same way.

Stored files come back from the database, which is not trusted more than a rule file: names are
checked (relative, inside ``rules/`` or ``templates/``, no ``..``), sizes and counts bounded, and
they are written only into a fresh private folder, where the same loader and limits as for files
on disk read them.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.errors import StoredRulesError
from engine.language.loader import discover
from engine.language.yamlsafe import MAX_FILE_BYTES

RULES, TEMPLATES = "rules", "templates"
MAX_FILES = 2_000
MAX_TOTAL_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class Snapshot:
    files: dict[str, str]
    digest: str
    omitted: list[str] = field(default_factory=list)  # "name: why", files not kept (binary, too big)

    @property
    def storable(self) -> bool:
        return len(self.files) <= MAX_FILES and sum(len(t.encode()) for t in self.files.values()) \
            <= MAX_TOTAL_BYTES


def read_snapshot(rules_path: Path, templates_path: Path) -> Snapshot:
    files: dict[str, str] = {}
    omitted: list[str] = []
    rule_files, _ = discover([rules_path])
    for path in rule_files:
        _add(files, omitted, RULES, rules_path, path)
    if templates_path.is_dir():
        for path in sorted(templates_path.rglob("*")):
            if path.is_file():
                _add(files, omitted, TEMPLATES, templates_path, path)
    return Snapshot(files, digest_of(files), omitted)


def _add(files: dict[str, str], omitted: list[str], prefix: str, root: Path, path: Path) -> None:
    name = f"{prefix}/{path.relative_to(root).as_posix() if root.is_dir() else path.name}"
    try:
        if root.is_dir() and not path.resolve().is_relative_to(root.resolve()):
            omitted.append(f"{name}: leads out of its folder (a symlink)")
            return
        if path.stat().st_size > MAX_FILE_BYTES:
            omitted.append(f"{name}: over {MAX_FILE_BYTES} bytes")
            return
        files[name] = path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:  # gone meanwhile, unreadable or not text
        omitted.append(f"{name}: {type(exc).__name__}")


def digest_of(files: dict[str, str]) -> str:
    """SHA-256 over the names and contents of the files, in name order."""
    hashed = hashlib.sha256()
    for name in sorted(files):
        hashed.update(name.encode("utf-8", "surrogateescape") + b"\0")
        hashed.update(hashlib.sha256(files[name].encode("utf-8", "surrogateescape")).digest())
    return hashed.hexdigest()


def checked_files(files: Any) -> dict[str, str]:
    """Stored files as they may be written back, or ``StoredRulesError`` naming the first fault."""
    if not isinstance(files, dict):
        raise StoredRulesError("stored rule files are not a mapping of names to text")
    if len(files) > MAX_FILES:
        raise StoredRulesError(f"stored rule set has {len(files)} files, over the limit of {MAX_FILES}")
    total = 0
    for name, text in files.items():
        _check_name(name)
        if not isinstance(text, str):
            raise StoredRulesError(f"stored file {name!r} is not text")
        size = len(text.encode("utf-8", "surrogateescape"))
        if size > MAX_FILE_BYTES:
            raise StoredRulesError(f"stored file {name!r} is {size} bytes, over the {MAX_FILE_BYTES} limit")
        total += size
    if total > MAX_TOTAL_BYTES:
        raise StoredRulesError(f"stored rule set is {total} bytes, over the {MAX_TOTAL_BYTES} limit")
    return files


def _check_name(name: Any) -> None:
    if not isinstance(name, str) or not name or len(name) > 1000:
        raise StoredRulesError(f"stored file name {name!r} is not a file name")
    if any(ord(char) < 32 or char in "\\\x7f" for char in name):
        raise StoredRulesError(f"stored file name {name!r} has a control character or a backslash")
    parts = name.split("/")
    if parts[0] not in (RULES, TEMPLATES) or len(parts) < 2:
        raise StoredRulesError(f"stored file name {name!r} must start with rules/ or templates/")
    if any(part in ("", ".", "..") for part in parts):
        raise StoredRulesError(f"stored file name {name!r} must be relative, with no '.', '..' or "
                               "empty parts")


def materialise(files: Any, root: Path) -> tuple[Path, Path]:
    """Write checked stored files under ``root`` (a fresh private folder); its rules and templates folders.

    Files are created, never opened if present, and never through a symlink; each must land inside
    ``root``, which the name checks already ensure and this checks again on the path itself.
    """
    checked = checked_files(files)
    inside = root.resolve()
    for folder in (RULES, TEMPLATES):
        (root / folder).mkdir(mode=0o700, exist_ok=True)
    for name, text in sorted(checked.items()):
        target = root / name
        try:
            target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            if not target.parent.resolve().is_relative_to(inside):
                raise StoredRulesError(f"stored file name {name!r} leads out of the folder it is written to")
            descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        except OSError as exc:  # e.g. 'rules/a' stored both as a file and as a folder
            raise StoredRulesError(f"stored file {name!r} cannot be written back: {exc.strerror}") from exc
        with os.fdopen(descriptor, "w", encoding="utf-8", errors="surrogateescape") as handle:
            handle.write(text)
    return root / RULES, root / TEMPLATES
