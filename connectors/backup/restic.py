"""The restic program, driven through ``subprocess`` and its ``--json`` output.

restic does the hard parts (content-defined chunking, deduplication, encryption, retention,
``check --read-data``); this module only runs it. The repository and its password reach the
child process through its environment (``RESTIC_REPOSITORY``, ``RESTIC_PASSWORD``), never
its command line (``ps`` shows that to every user) and never a log line: an error message
carries a summary of restic's stderr with both blotted out.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path, PurePosixPath
from typing import IO, Any, BinaryIO

from connectors.backup.errors import (
    BackupCorrupted,
    BackupError,
    NoRepository,
    RepositoryUnavailable,
    UnsafeInput,
)

__all__ = ["BackupProgress", "BackupSummary", "ForgetResult", "Restic", "Snapshot", "check_snapshot_id"]

SNAPSHOT_ID = re.compile(r"latest|[0-9a-f]{8,64}")
TAG = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:=-]{0,99}")
HOST = "despacho"  # every snapshot's host, so retention and parents do not depend on the machine's name
_INHERITED_RESTIC = ("RESTIC_PASSWORD_FILE", "RESTIC_PASSWORD_COMMAND", "RESTIC_REPOSITORY_FILE",
                     "RESTIC_KEY_HINT")
_CHUNK = 1 << 20


def check_snapshot_id(snapshot_id: str) -> str:
    """A snapshot id as restic prints it (8 to 64 hex digits) or ``latest``; anything else is refused."""
    if not isinstance(snapshot_id, str) or not SNAPSHOT_ID.fullmatch(snapshot_id):
        raise UnsafeInput(f"'{_printable(str(snapshot_id))}' is not a snapshot id "
                          "(8 to 64 hexadecimal digits, or latest)")
    return snapshot_id


def _check_tag(tag: str) -> str:
    if not TAG.fullmatch(tag):
        raise UnsafeInput(f"'{_printable(tag)}' is not a tag (letters, digits and _.:=- only)")
    return tag


def _check_inner_path(path: str) -> str:
    """A path inside a snapshot: absolute, no ``..``, no control characters, no option-like start."""
    if not path or any(ord(c) < 32 for c in path) or not path.startswith("/"):
        raise UnsafeInput(f"'{_printable(path)}' is not an absolute path inside the snapshot")
    if ".." in PurePosixPath(path).parts:
        raise UnsafeInput(f"'{_printable(path)}' climbs out of its folder ('..')")
    return path


def _printable(text: str) -> str:
    return "".join(c if c.isprintable() else "?" for c in text)[:120]


@dataclass(frozen=True)
class BackupProgress:
    """One ``status`` line of ``restic backup --json``."""

    fraction: float
    bytes_done: int
    total_bytes: int
    files_done: int
    total_files: int


@dataclass(frozen=True)
class BackupSummary:
    """The ``summary`` line of ``restic backup --json``."""

    snapshot_id: str
    data_added: int
    total_bytes_processed: int
    files_new: int
    files_changed: int
    files_unmodified: int
    duration: float


@dataclass(frozen=True)
class ForgetResult:
    kept: tuple[str, ...]
    removed: tuple[str, ...]
    pruned: bool


@dataclass
class Snapshot:
    """One restic snapshot; ``manifest`` (despacho's manifest.json in it) is read on first use."""

    id: str
    short_id: str
    time: datetime
    tags: tuple[str, ...]
    paths: tuple[str, ...]
    hostname: str = HOST
    _manifest_loader: Callable[[Snapshot], dict[str, Any] | None] | None = field(
        default=None, repr=False, compare=False)

    @cached_property
    def manifest(self) -> dict[str, Any] | None:
        return self._manifest_loader(self) if self._manifest_loader is not None else None


class Restic:
    """One repository, opened with one password."""

    def __init__(self, repository: str, password: str, *, env: Mapping[str, str] | None = None,
                 binary: str = "restic", host: str = HOST) -> None:
        if not password:
            raise RepositoryUnavailable("the backup repository password is empty")
        self.repository = repository
        self._password = password
        self._extra_env = dict(env or {})
        self.binary = binary
        self.host = host
        self.manifest_loader: Callable[[Snapshot], dict[str, Any] | None] | None = None

    def __repr__(self) -> str:
        return f"Restic({self.display_repository!r})"

    @property
    def display_repository(self) -> str:
        """The repository as it may be shown: any ``user:password@`` removed."""
        return re.sub(r"//[^/@]*@", "//***@", self.repository)

    # ----------------------------------------------------------------- the verbs

    def ensure_repository(self) -> bool:
        """Open the repository, creating it when there is none; True when it was created."""
        return self._open_or_init(["cat", "config"]) is None

    def snapshots_creating(self) -> list[Snapshot]:
        """Every snapshot, oldest first, creating the repository when there is none.

        One restic run where ``ensure_repository`` then ``snapshots`` take two: each run derives
        the repository key (scrypt) and loads the index, which is most of a small command's time.
        """
        probe = self._open_or_init(["snapshots", "--json"])
        return self._parse_snapshots(probe.stdout) if probe is not None else []

    def _open_or_init(self, args: list[str]) -> subprocess.CompletedProcess[bytes] | None:
        """``args`` run on the repository; None when there was none and it has just been created."""
        if not self.repository.startswith(tuple(f"{k}:" for k in ("s3", "sftp", "rest", "b2", "azure",
                                                                      "gs", "swift"))):
            Path(self.repository).parent.mkdir(parents=True, exist_ok=True)
        probe = self._run(args, check=False)
        if probe.returncode == 0:
            return probe
        stderr = probe.stderr.decode("utf-8", "replace")
        if not _means_no_repository(stderr):
            raise self._error(args, stderr)
        self._run(["init"])
        return None

    def backup(self, paths: Sequence[str | Path], *, tags: Iterable[str] = (), time: datetime | None = None,
               progress: Callable[[BackupProgress], None] | None = None) -> str:
        """Back up ``paths``; the new snapshot's id."""
        return self.backup_summary(paths, tags=tags, time=time, progress=progress).snapshot_id

    def backup_creating(self, paths: Sequence[str | Path], *, tags: Iterable[str] = (),
                        time: datetime | None = None,
                        progress: Callable[[BackupProgress], None] | None = None) -> BackupSummary:
        """``backup_summary``, creating the repository when there is none. Found by trying: one
        restic run in the usual case, where asking first (``ensure_repository``) would take two."""
        try:
            return self.backup_summary(paths, tags=tags, time=time, progress=progress)
        except NoRepository:
            self.ensure_repository()
        return self.backup_summary(paths, tags=tags, time=time, progress=progress)

    def backup_summary(self, paths: Sequence[str | Path], *, tags: Iterable[str] = (),
                       time: datetime | None = None,
                       progress: Callable[[BackupProgress], None] | None = None) -> BackupSummary:
        """Back up ``paths`` (absolute); restic's summary. ``time`` backdates the snapshot (tests)."""
        if not paths:
            raise BackupError("nothing to back up")
        args = ["backup", "--json", "--host", self.host]
        for tag in tags:
            args += ["--tag", _check_tag(tag)]
        if time is not None:
            if time.tzinfo is None:
                raise BackupError("the snapshot time needs a time zone")
            args += ["--time", time.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")]
        args.append("--")
        args += [str(Path(p).resolve()) for p in paths]
        summary: dict[str, Any] | None = None
        errors: list[str] = []
        for message in self._stream_json(args):
            kind = message.get("message_type")
            if kind == "status" and progress is not None:
                progress(BackupProgress(
                    fraction=float(message.get("percent_done", 0.0)),
                    bytes_done=int(message.get("bytes_done", 0)),
                    total_bytes=int(message.get("total_bytes", 0)),
                    files_done=int(message.get("files_done", 0)),
                    total_files=int(message.get("total_files", 0))))
            elif kind == "error":
                errors.append(str(message.get("error", {}).get("message", message)))
            elif kind == "summary":
                summary = message
        if errors:
            raise BackupError("restic could not read everything: " + self._redact("; ".join(errors))[:500])
        if summary is None or not summary.get("snapshot_id"):
            raise BackupError("restic backup ended without a snapshot")
        return BackupSummary(
            snapshot_id=str(summary["snapshot_id"]), data_added=int(summary.get("data_added", 0)),
            total_bytes_processed=int(summary.get("total_bytes_processed", 0)),
            files_new=int(summary.get("files_new", 0)), files_changed=int(summary.get("files_changed", 0)),
            files_unmodified=int(summary.get("files_unmodified", 0)),
            duration=float(summary.get("total_duration", 0.0)))

    def snapshots(self, tags: Iterable[str] = ()) -> list[Snapshot]:
        """Snapshots holding every tag in ``tags``, oldest first."""
        args = ["snapshots", "--json"]
        wanted = [_check_tag(t) for t in tags]
        if wanted:
            args += ["--tag", ",".join(wanted)]
        return self._parse_snapshots(self._run(args).stdout)

    def _parse_snapshots(self, stdout: bytes) -> list[Snapshot]:
        raw = json.loads(stdout or b"[]") or []
        found = [Snapshot(id=item["id"], short_id=item.get("short_id", item["id"][:8]),
                          time=_parse_time(item["time"]), tags=tuple(item.get("tags") or ()),
                          paths=tuple(item.get("paths") or ()), hostname=item.get("hostname", ""),
                          _manifest_loader=self.manifest_loader)
                 for item in raw]
        return sorted(found, key=lambda s: s.time)

    def snapshot(self, snapshot_id: str, tags: Iterable[str] = ()) -> Snapshot:
        """The one snapshot ``snapshot_id`` (a unique prefix, or latest) names, among those with ``tags``."""
        check_snapshot_id(snapshot_id)
        everything = self.snapshots(tags)
        if snapshot_id == "latest":
            if not everything:
                raise BackupError("the repository has no snapshot yet", reason="not_found")
            return everything[-1]
        matches = [s for s in everything if s.id.startswith(snapshot_id)]
        if not matches:
            raise BackupError(f"no snapshot {snapshot_id} in the repository", reason="not_found")
        if len(matches) > 1:
            raise BackupError(f"snapshot id {snapshot_id} is ambiguous: give more digits", reason="ambiguous")
        return matches[0]

    def restore(self, snapshot_id: str, target: Path, include: Iterable[str] = ()) -> None:
        """Write the snapshot's files (or only ``include``) under ``target`` (created)."""
        args = ["restore", check_snapshot_id(snapshot_id), "--target", str(Path(target).resolve())]
        for path in include:
            args += ["--include", _check_inner_path(path)]
        Path(target).mkdir(parents=True, exist_ok=True)
        self._run(args)

    def dump(self, snapshot_id: str, path: str, out: BinaryIO | IO[bytes]) -> int:
        """Copy one file of a snapshot into ``out``; the number of bytes written."""
        args = ["dump", check_snapshot_id(snapshot_id), _check_inner_path(path)]
        proc = subprocess.Popen([self._binary(), *args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=self._env())
        assert proc.stdout is not None and proc.stderr is not None
        written = 0
        try:
            while chunk := proc.stdout.read(_CHUNK):
                out.write(chunk)
                written += len(chunk)
        finally:
            stderr = proc.stderr.read().decode("utf-8", "replace")
            proc.wait()
        if proc.returncode != 0:
            raise self._error(args, stderr)
        return written

    def check(self, read_data_subset: str | None = None) -> str:
        """``restic check`` (with ``--read-data-subset``); restic's report, or ``BackupCorrupted``."""
        args = ["check"]
        if read_data_subset is not None:
            if not re.fullmatch(r"(\d{1,3}(\.\d+)?%|\d+(\.\d+)?[KMGT]?|\d+/\d+)", read_data_subset):
                raise UnsafeInput(f"'{_printable(read_data_subset)}' is not n%, n/m or a size")
            args.append(f"--read-data-subset={read_data_subset}")
        result = self._run(args, check=False)
        output = result.stdout.decode("utf-8", "replace")
        if result.returncode == 0:
            return output
        stderr = result.stderr.decode("utf-8", "replace")
        error = self._error(args, stderr + "\n" + output)
        if isinstance(error, RepositoryUnavailable):
            raise error
        raise BackupCorrupted(f"restic check found errors in {self.display_repository}: "
                              f"{_summary(self._redact(stderr + chr(10) + output))}")

    def forget(self, keep_daily: int, keep_weekly: int, keep_monthly: int, prune: bool = True,
               tags: Iterable[str] = (), *, dry_run: bool = False) -> ForgetResult:
        """Apply retention to the snapshots holding ``tags``; with ``prune`` free the space too;
        ``dry_run``: only say what would go."""
        if keep_daily + keep_weekly + keep_monthly <= 0:
            raise BackupError("retention keeps nothing: refusing to forget every snapshot", reason="refused")
        args = ["forget", "--json", "--group-by", "host",
                "--keep-daily", str(keep_daily), "--keep-weekly", str(keep_weekly),
                "--keep-monthly", str(keep_monthly)]
        wanted = [_check_tag(t) for t in tags]
        if wanted:
            args += ["--tag", ",".join(wanted)]
        if dry_run:
            args.append("--dry-run")
        elif prune:
            args.append("--prune")
        stdout = self._run(args).stdout.decode("utf-8", "replace")
        groups = _first_json(stdout) or []
        kept = tuple(s["id"] for g in groups for s in (g.get("keep") or ()))
        removed = tuple(s["id"] for g in groups for s in (g.get("remove") or ()))
        return ForgetResult(kept=kept, removed=removed, pruned=prune)

    def forget_ids(self, snapshot_ids: Iterable[str]) -> None:
        """Forget these snapshots (no prune)."""
        ids = [check_snapshot_id(i) for i in snapshot_ids]
        if "latest" in ids:
            raise UnsafeInput("forget needs snapshot ids, not latest")
        if ids:
            self._run(["forget", *ids])

    def prune(self) -> None:
        """Delete the data no snapshot uses any more."""
        self._run(["prune"])

    def stats(self) -> dict[str, Any]:
        """``restic stats --mode raw-data``: the repository's size on disk (after dedup)."""
        return dict(json.loads(self._run(["stats", "--json", "--mode", "raw-data"]).stdout or b"{}"))

    # ----------------------------------------------------------------- running restic

    def _binary(self) -> str:
        found = shutil.which(self.binary)
        if found is None:
            raise BackupError(f"the restic program '{self.binary}' is not installed: run 'make tools' "
                              "(apt-get install restic)", reason="unavailable")
        return found

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in _INHERITED_RESTIC}
        env.update(self._extra_env)
        env.update({"RESTIC_REPOSITORY": self.repository, "RESTIC_PASSWORD": self._password,
                    "TZ": "UTC", "RESTIC_PROGRESS_FPS": env.get("RESTIC_PROGRESS_FPS", "2")})
        return env

    def _run(self, args: list[str], *, check: bool = True) -> subprocess.CompletedProcess[bytes]:
        result = subprocess.run([self._binary(), *args], stdin=subprocess.DEVNULL, capture_output=True,
                                env=self._env(), check=False)
        if check and result.returncode != 0:
            raise self._error(args, result.stderr.decode("utf-8", "replace"))
        return result

    def _stream_json(self, args: list[str]) -> Iterator[dict[str, Any]]:
        proc = subprocess.Popen([self._binary(), *args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=self._env())
        assert proc.stdout is not None and proc.stderr is not None
        import threading

        stderr_parts: list[bytes] = []
        reader = threading.Thread(target=lambda: stderr_parts.append(proc.stderr.read()  # type: ignore[union-attr]
                                                                     ), daemon=True)
        reader.start()
        try:
            for line in proc.stdout:
                line = line.strip()
                if line.startswith(b"{"):
                    try:
                        yield json.loads(line)
                    except json.JSONDecodeError:
                        continue
        finally:
            proc.stdout.close()
            proc.wait()
            reader.join()
        if proc.returncode != 0:
            raise self._error(args, b"".join(stderr_parts).decode("utf-8", "replace"))

    def _redact(self, text: str) -> str:
        text = text.replace(self._password, "***") if self._password else text
        if self.repository != self.display_repository:
            text = text.replace(self.repository, self.display_repository)
        return re.sub(r"//[^/@\s]*:[^/@\s]*@", "//***@", text)

    def _error(self, args: list[str], stderr: str) -> BackupError:
        summary = _summary(self._redact(stderr))
        what = f"restic {args[0]} on {self.display_repository}"
        lowered = stderr.lower()
        if "wrong password" in lowered:
            return RepositoryUnavailable(f"{what}: the password does not open the repository")
        if _means_no_repository(stderr):
            return NoRepository(f"{what}: there is no repository there (run 'despacho backup run' "
                                         f"to create it): {summary}")
        if any(m in lowered for m in ("connection refused", "no such host", "dial tcp", "timeout",
                                      "access denied", "nosuchbucket", "forbidden")):
            return RepositoryUnavailable(f"{what}: the repository cannot be reached: {summary}")
        if any(m in lowered for m in ("no matching id", "no snapshot", "not found", "unable to find")):
            return BackupError(f"{what}: {summary}", reason="not_found")
        if "already locked" in lowered or "unable to create lock" in lowered:
            return BackupError(f"{what}: the repository is locked by another restic run (an old lock is "
                               f"removed by 'restic unlock'): {summary}", reason="locked")
        if any(m in lowered for m in ("ciphertext verification failed", "hash does not match", "corrupt",
                                      "invalid data returned", "repository contains errors")):
            return BackupCorrupted(f"{what}: the repository is damaged: {summary}")
        return BackupError(f"{what} failed: {summary}")


def _means_no_repository(stderr: str) -> bool:
    lowered = stderr.lower()
    return ("is there a repository at the following location" in lowered
            or "unable to open config file" in lowered
            or "repository does not exist" in lowered
            or "config file does not exist" in lowered)


def _summary(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    useful = [line for line in lines if not line.startswith(("using temporary cache", "create exclusive lock",
                                                              "load indexes", "repository ", "[", "check "))]
    return _printable(" | ".join((useful or lines)[-4:]))[:500] if lines else "(no message)"


def _first_json(text: str) -> Any:
    for line in text.splitlines():
        line = line.strip()
        if line.startswith(("[", "{")):
            try:
                return json.loads(line)
            except json.JSONDecodeError:
                continue
    return None


def _parse_time(value: str) -> datetime:
    # restic writes nanoseconds and a zone: 2026-12-05T02:00:00.123456789-03:00
    match = re.match(r"^(.*T\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)?$", value)
    if not match:
        raise BackupError(f"restic gave an unreadable time '{_printable(value)}'")
    base, frac, zone = match.groups()
    micro = (frac or ".0")[1:7].ljust(6, "0")
    parsed = datetime.fromisoformat(f"{base}.{micro}{'+00:00' if zone in (None, 'Z') else zone}")
    return parsed
