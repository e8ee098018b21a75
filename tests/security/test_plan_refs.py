"""`despacho plan` reads a git ref's rules: the ref and its files are input, not trusted.

A ref cannot be an option of git, a link in the ref's tree cannot reach out of
the folder it is written to, and a huge tree cannot fill the disk.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from engine.language import gitref
from engine.language.gitref import GitRefError, export_paths, resolve_ref


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
                          cwd=repo, capture_output=True, text=True, check=True)
    return done.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "rules").mkdir(parents=True)
    (root / "rules/r.yaml").write_text("rules: []\n")
    git(root, "init", "-q", "-b", "main")
    return root


def commit(repo: Path) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "c")
    return git(repo, "rev-parse", "HEAD")


@pytest.mark.parametrize("ref", ["--output=/tmp/pwned", "-h", ""])
def test_ref_that_git_would_read_as_an_option_is_refused(repo: Path, ref: str) -> None:
    commit(repo)
    with pytest.raises(GitRefError, match="is not a git ref"):
        resolve_ref(repo, ref)


def test_ref_naming_a_tree_or_blob_is_not_a_commit(repo: Path) -> None:
    commit(repo)
    with pytest.raises(GitRefError, match="is not a commit, branch or tag"):
        resolve_ref(repo, "HEAD:rules")


def test_link_to_an_absolute_path_in_the_ref_is_refused(repo: Path, tmp_path: Path) -> None:
    os.symlink("/etc/passwd", repo / "rules/stolen.yaml")
    sha = commit(repo)
    out = tmp_path / "out"
    with pytest.raises(GitRefError, match="cannot read rules at"):
        export_paths(repo, sha, ["rules"], out)
    assert not (out / "rules/stolen.yaml").exists()


def test_link_out_of_the_folder_is_refused(repo: Path, tmp_path: Path) -> None:
    os.symlink("../../../../../etc/passwd", repo / "rules/up.yaml")
    sha = commit(repo)
    with pytest.raises(GitRefError, match="cannot read rules at"):
        export_paths(repo, sha, ["rules"], tmp_path / "out")


def test_tree_over_the_size_bound_stops_without_hanging(repo: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    (repo / "rules/big.yaml").write_text("# " + "x" * 200_000 + "\nrules: []\n")
    sha = commit(repo)
    monkeypatch.setattr(gitref, "MAX_ARCHIVE_BYTES", 50_000)
    with pytest.raises(GitRefError, match="over"):
        export_paths(repo, sha, ["rules"], tmp_path / "out")


def test_path_outside_the_tree_is_refused(repo: Path, tmp_path: Path) -> None:
    sha = commit(repo)
    with pytest.raises(GitRefError, match="not in the repository at"):
        export_paths(repo, sha, ["../elsewhere"], tmp_path / "out")
