"""The rules and templates of a git ref, copied into a folder so the normal loader can read them.

``git archive`` writes the folders as they are at the ref; the tar is read
as a stream with the ``data`` filter (no absolute paths, no ``..``, no links
out of the folder, no devices), and its size is bounded: a ref is input.
"""

from __future__ import annotations

import io
import subprocess
import tarfile
from pathlib import Path as FsPath
from typing import IO, Any

from errors import DespachoError

MAX_ARCHIVE_BYTES = 64 * 1024 * 1024
GIT_TIMEOUT_SECONDS = 60


class GitRefError(DespachoError):
    """The ref, the repository or a path in it cannot be read."""


def repository_root(path: FsPath) -> FsPath:
    """The top folder of the git work tree that holds ``path``."""
    folder = path if path.is_dir() else path.parent
    out = _git(folder, "rev-parse", "--show-toplevel")
    return FsPath(out.decode().strip())


def resolve_ref(repo: FsPath, ref: str) -> str:
    """The commit ``ref`` names, or ``GitRefError`` saying it names none."""
    if not ref or ref.startswith("-"):
        raise GitRefError(f"'{ref}' is not a git ref")
    try:
        out = _git(repo, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}")
    except GitRefError as exc:
        raise GitRefError(f"'{ref}' is not a commit, branch or tag in {repo}") from exc
    return out.decode().strip()


def export_paths(repo: FsPath, commit: str, paths: list[str], into: FsPath) -> None:
    """Write ``paths`` (relative to the repository) as they are at ``commit`` under ``into``."""
    missing = [p for p in paths if not _exists(repo, commit, p)]
    if missing:
        raise GitRefError(f"{', '.join(missing)}: not in the repository at {commit[:12]}")
    command = ["git", "-C", str(repo), "archive", "--format=tar", commit, "--", *paths]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as process:
        assert process.stdout is not None
        try:
            with tarfile.open(fileobj=_Bounded(process.stdout, MAX_ARCHIVE_BYTES), mode="r|") as archive:
                archive.extractall(into, filter="data")
        except GitRefError:
            process.kill()  # nobody reads its pipe any more: it would wait forever
            raise
        except (tarfile.TarError, OSError) as exc:
            process.kill()
            raise GitRefError(f"cannot read {', '.join(paths)} at {commit[:12]}: {exc}") from exc
        _, err = process.communicate(timeout=GIT_TIMEOUT_SECONDS)
    if process.returncode:
        raise GitRefError(f"git archive failed: {err.decode(errors='replace').strip()}")


def _exists(repo: FsPath, commit: str, path: str) -> bool:
    try:
        _git(repo, "cat-file", "-e", f"{commit}:{path}")
    except GitRefError:
        return False
    return True


def _git(folder: FsPath, *args: str) -> bytes:
    try:
        done = subprocess.run(["git", "-C", str(folder), *args], capture_output=True, check=False,
                              timeout=GIT_TIMEOUT_SECONDS)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise GitRefError(f"cannot run git: {exc}") from exc
    if done.returncode:
        message = done.stderr.decode(errors="replace").strip() or f"git {args[0]} failed"
        raise GitRefError(message)
    return done.stdout


class _Bounded(io.RawIOBase):
    """A read-only stream that fails past ``limit`` bytes (a huge ref cannot fill the disk)."""

    def __init__(self, stream: IO[bytes], limit: int) -> None:
        super().__init__()
        self._stream = stream
        self._left = limit

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._stream.read(len(buffer))
        self._left -= len(data)
        if self._left < 0:
            raise GitRefError(f"the rules at this ref are over {MAX_ARCHIVE_BYTES // (1024 * 1024)} MiB")
        buffer[:len(data)] = data
        return len(data)
