"""Saving a file the console edited: written, then committed to git with the admin as author.

Git stays the one source of truth: a change made in the browser is a commit like any other
(``git log`` shows who, ``git revert`` undoes it). Only the saved file goes into the commit
(``git commit --only``), whatever else is staged in the working copy. The committer is
"despacho console", so a reader can tell these commits from ones made at a terminal.
"""

from __future__ import annotations

import os
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

from console.errors import ConsoleRefusal

COMMITTER = ("despacho console", "console@despacho.invalid")
_lock = threading.Lock()  # one save at a time: write and commit belong together


class SaveRefused(ConsoleRefusal):
    """The file could not be committed (not in a git repository, git failed): nothing was kept."""


@dataclass(frozen=True)
class Saved:
    paths: list[Path]  # the files that changed
    commit: str  # the new commit's hash; "" when nothing changed (no commit)


def save_and_commit(files: dict[Path, str | None], *, author: str, message: str) -> Saved:
    """Write each file (``None``: delete it) and commit them alone, in one commit; on failure every
    file is put back as it was. All files must be in one repository."""
    with _lock:
        top = _toplevel(next(iter(files)).parent)
        previous = {path: path.read_bytes() if path.exists() else None for path in files}
        wanted = {path: None if text is None else text.encode("utf-8") for path, text in files.items()}
        changed = [path for path in files if previous[path] != wanted[path]]
        if not changed:
            return Saved([], "")
        try:
            for path in changed:
                data = wanted[path]
                if data is None:
                    path.unlink(missing_ok=True)
                else:
                    path.write_bytes(data)
            relative = [str(path.resolve().relative_to(top)) for path in changed]
            _git(top, "add", "--all", "--", *relative)
            env = {"GIT_AUTHOR_NAME": author, "GIT_AUTHOR_EMAIL": f"{author}@console.despacho.invalid",
                   "GIT_COMMITTER_NAME": COMMITTER[0], "GIT_COMMITTER_EMAIL": COMMITTER[1]}
            _git(top, "commit", "--quiet", "--no-verify", "-m", message, "--only", "--", *relative, env=env)
            commit = _git(top, "rev-parse", "HEAD").strip()
        except (SaveRefused, ValueError):
            for path, data in previous.items():
                if data is None:
                    path.unlink(missing_ok=True)
                else:
                    path.write_bytes(data)
            raise
        return Saved(changed, commit)


def _toplevel(folder: Path) -> Path:
    try:
        return Path(_git(folder, "rev-parse", "--show-toplevel").strip()).resolve()
    except SaveRefused as exc:
        raise SaveRefused(f"{folder} não está num repositório git: o console só salva o que pode "
                          "registrar num commit (git é a fonte da verdade)") from exc


def _git(cwd: Path, *args: str, env: dict[str, str] | None = None) -> str:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=30,
                              env={**os.environ, **(env or {})}, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SaveRefused(f"git falhou: {exc}") from exc
    if done.returncode != 0:
        raise SaveRefused(f"git {args[0]} falhou: {(done.stderr or done.stdout).strip()[:500]}")
    return done.stdout
