"""Which version of the rules a run ran under: the git commit, or a hash of the files outside git.

The commit names the rule set only when the rule and template files are what the commit holds:
any change to them (edited, added, deleted, untracked) makes the version the content hash
``sha256:<first 16 hex of the digest>`` instead, as does a folder outside git or no git at all.
Computed once per load, never per event.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

GIT_TIMEOUT = 5.0  # seconds per git call: a hung filesystem must not hold up a reload


def ruleset_version(rules_path: Path, templates_path: Path, digest: str) -> str:
    """The git commit of the repository holding ``rules_path`` when both folders are clean in it."""
    commit = _git(rules_path, "rev-parse", "--verify", "HEAD")
    if commit is None or len(commit) < 40:
        return content_version(digest)
    changes = _git(rules_path, "status", "--porcelain", "--untracked-files=all", "--",
                   str(rules_path.resolve()), str(templates_path.resolve()))
    # None: git refused (e.g. the templates folder lies outside this repository)
    return commit if changes == "" else content_version(digest)


def content_version(digest: str) -> str:
    return f"sha256:{digest[:16]}"


def _git(folder: Path, *args: str) -> str | None:
    """git's output, stripped; None when git is missing, fails or takes too long."""
    try:
        done = subprocess.run(
            # no fsmonitor hook: reading the version must not run a program named by the checkout
            ["git", "-c", "core.fsmonitor=false", "-C", str(folder), *args],
            capture_output=True, text=True, timeout=GIT_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None
