"""PostgreSQL point in time: the WAL archive, physical base backups, a temporary cluster recovered to a time.

A ``pg_dump`` is a picture of one moment and cannot be rolled forward. Stopping a restore at a
time needs a *physical* copy of the cluster (``pg_basebackup``) and every WAL segment written after
it (``archive_command``); PostgreSQL then replays the WAL up to ``recovery_target_time``.

This module deals only with PostgreSQL's programs and files; ``connectors.backup.pitr`` keeps the
base backups and the archive in the restic repository and turns a recovered cluster into a dump
that the normal restore path loads into ``--target``. The recovered cluster is temporary and
private: its own data folder under a scratch folder, no TCP listener (a Unix socket inside the
scratch folder), ``archive_mode = off`` (it must never write into the real archive), removed after.

PostgreSQL refuses to run as root: when despacho runs as root, the temporary cluster runs as
``run_as`` (default ``postgres``) and its files are handed to that user.
"""

from __future__ import annotations

import os
import pwd
import re
import shlex
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from connectors.backup.errors import BackupError

SERVER_ROOT = Path("/usr/lib/postgresql")
SOCKET_PORT = 5432  # only names the socket file, inside a private folder: no clash with a real server
_LOG_TAIL = 4000


class RecoveryFailed(BackupError):
    """The temporary cluster could not be recovered to the asked time."""


@dataclass(frozen=True)
class RestorePoint:
    """A point named by ``pg_create_restore_point`` (an incremental backup's end): recovery stops there."""

    name: str

    def __str__(self) -> str:
        return f"restore point '{self.name}'"


RecoveryTarget = datetime | RestorePoint


def describe(target: RecoveryTarget) -> str:
    return target.isoformat() if isinstance(target, datetime) else str(target)


@dataclass(frozen=True)
class ServerTools:
    """Where PostgreSQL's programs are, and which OS user runs a temporary cluster when we are root."""

    bin: Path
    run_as: str = "postgres"

    def program(self, name: str) -> str:
        path = self.bin / name
        if not path.is_file():
            raise BackupError(f"{path} is missing: install the PostgreSQL server package of this "
                              "major version (apt install postgresql-NN)")
        return str(path)

    @property
    def as_other_user(self) -> bool:
        return os.geteuid() == 0


def server_tools(major: str | None = None, *, bin_dir: str | None = None,
                 run_as: str = "postgres") -> ServerTools:
    """The programs of PostgreSQL ``major`` (newest installed when None), or those in ``bin_dir``."""
    if bin_dir:
        return ServerTools(Path(bin_dir), run_as)
    pattern = f"{major}/bin/pg_ctl" if major else "*/bin/pg_ctl"
    found = sorted(SERVER_ROOT.glob(pattern), key=lambda p: _version_key(p.parent.parent.name))
    if found:
        return ServerTools(found[-1].parent, run_as)
    on_path = shutil.which("pg_ctl")
    if on_path and major is None:
        return ServerTools(Path(on_path).parent, run_as)
    wanted = f"PostgreSQL {major}" if major else "PostgreSQL"
    raise BackupError(f"the {wanted} server programs (pg_ctl, postgres) are not installed; install "
                      f"postgresql-{major or 'NN'} or set connectors.backup.postgres_bin")


def _version_key(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", name)) or (0,)


def archive_command(folder: Path) -> str:
    """The ``archive_command`` that copies each finished WAL segment into ``folder``.

    It never overwrites a segment with different content (a second cluster archiving into the same
    folder fails loudly instead of destroying history), succeeds when the same segment is there
    already (PostgreSQL retries a segment whose success it did not record, e.g. after a crash), and
    copies under a temporary name first, so a reader never sees half a segment.
    """
    target = shlex.quote(str(folder))
    return (f"test -f {target}/%f && cmp -s %p {target}/%f || "
            f"(test ! -f {target}/%f && cp %p {target}/%f.part && mv {target}/%f.part {target}/%f)")


def libpq_env(url: str) -> dict[str, str]:
    """``PG*`` variables for a SQLAlchemy PostgreSQL URL: the password travels in the environment,
    never on a command line (``ps`` shows those to every user)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if not parsed.drivername.startswith("postgresql"):
        raise BackupError(f"point-in-time recovery needs PostgreSQL, not {parsed.drivername}")
    env = {"PGHOST": parsed.host or "localhost", "PGPORT": str(parsed.port or 5432),
           "PGUSER": parsed.username or "postgres", "PGDATABASE": parsed.database or "postgres"}
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    return env


@dataclass(frozen=True)
class BaseBackup:
    """A physical copy of a cluster in ``folder``, and where in the WAL and when it started."""

    folder: Path
    start_lsn: str
    start_time: str
    major: str
    start_wal_file: str = ""  # the first segment a restore from it needs (older ones may go)


def take_base_backup(url: str, folder: Path, tools: ServerTools, *, timeout: float = 3600) -> BaseBackup:
    """``pg_basebackup`` of the cluster behind ``url`` into the empty ``folder`` (plain format: unchanged
    relation files stay byte-identical between days, so restic stores them once)."""
    env = {**_clean_env(), **libpq_env(url)}
    command = [tools.program("pg_basebackup"), "-D", str(folder), "-F", "p", "-X", "stream", "-c", "fast",
               "--no-sync", "-l", "despacho base backup", "-w"]
    done = _run(command, env=env, timeout=timeout, what="pg_basebackup")
    if done.returncode != 0:
        stderr = done.stderr.decode("utf-8", "replace")
        raise BackupError(f"pg_basebackup failed: {_tail(stderr)}{_replication_hint(stderr)}")
    label = (folder / "backup_label").read_text(encoding="utf-8", errors="replace")
    lsn = re.search(r"START WAL LOCATION: (\S+)(?: \(file ([0-9A-F]{24})\))?", label)
    started = re.search(r"START TIME: (.+)", label)
    return BaseBackup(folder, lsn.group(1) if lsn else "", started.group(1).strip() if started else "",
                      (folder / "PG_VERSION").read_text().strip(), (lsn.group(2) or "") if lsn else "")


def clean_archive(archive: Path, first_needed: str, tools: ServerTools) -> None:
    """Remove the segments older than ``first_needed`` from the archive folder (``pg_archivecleanup``)."""
    if not re.fullmatch(r"[0-9A-F]{24}", first_needed):
        raise BackupError(f"'{first_needed[:40]}' is not a WAL segment name")
    done = _run([tools.program("pg_archivecleanup"), str(archive), first_needed], env=_clean_env(),
                timeout=600, what="pg_archivecleanup")
    if done.returncode != 0:
        raise BackupError(f"pg_archivecleanup failed: {_tail(done.stderr)}")


def _replication_hint(stderr: str) -> str:
    if "replication" in stderr and ("pg_hba" in stderr or "no pg_hba.conf entry" in stderr):
        return (" (allow replication connections for this user in pg_hba.conf, e.g. "
                "'host replication despacho 127.0.0.1/32 scram-sha-256', and reload)")
    return ""


@dataclass(frozen=True)
class RecoveredCluster:
    """A temporary server recovered to a time, reachable only through its Unix socket."""

    socket_dir: Path
    port: int
    user: str

    def env(self, database: str) -> dict[str, str]:
        return {**_clean_env(), "PGHOST": str(self.socket_dir), "PGPORT": str(self.port), "PGUSER": self.user,
                "PGDATABASE": database}


@contextmanager
def recovered_cluster(base: Path, wal_folder: Path, target: RecoveryTarget, tools: ServerTools, *,
                      user: str = "postgres", timeout: float = 3600) -> Iterator[RecoveredCluster]:
    """Start a cluster from the base backup in ``base`` (a folder this function takes over and
    changes, inside a scratch folder of its own), replaying WAL from ``wal_folder`` (which the server
    user must be able to read) up to ``target`` (a time, or a restore point by name); stopped when the
    block ends.

    Raises ``RecoveryFailed`` saying why when PostgreSQL cannot reach the target (the archive ends
    before it — a segment missing —, or the base backup finished after it).
    """
    if isinstance(target, datetime) and target.tzinfo is None:
        raise BackupError("the recovery time needs a time zone (2026-12-05T10:30:00-03:00)")
    major = (base / "PG_VERSION").read_text().strip() if (base / "PG_VERSION").is_file() else ""
    if not major:
        raise RecoveryFailed(f"{base} is not a PostgreSQL base backup (no PG_VERSION)")
    socket_dir = base.parent / "socket"
    socket_dir.mkdir(exist_ok=True)
    _prepare_data_folder(base, wal_folder, target, socket_dir)
    if tools.as_other_user:
        _give_to(tools.run_as, base.parent)  # the scratch folder; a live archive is read, never changed
    log = base.parent / "recovery.log"
    started = _as_server_user(tools, [tools.program("pg_ctl"), "-D", str(base), "-l", str(log), "-w",
                                      "-t", str(int(timeout)), "start"], timeout=timeout + 30)
    try:
        if started.returncode != 0:
            raise RecoveryFailed(_explain_failure(log, target))
        cluster = RecoveredCluster(socket_dir, SOCKET_PORT, user)
        _wait_until_promoted(cluster, base, log, target, tools, timeout)
        yield cluster
    finally:
        _as_server_user(tools, [tools.program("pg_ctl"), "-D", str(base), "-m", "immediate", "-w", "stop"],
                        timeout=120)


def _wait_until_promoted(cluster: RecoveredCluster, data: Path, log: Path, target: RecoveryTarget,
                         tools: ServerTools, timeout: float) -> None:
    """``pg_ctl -w`` returns once the server is consistent; the replay to the target goes on after
    that, without connections (``hot_standby = off``). Poll until it accepts them (promoted), or died."""
    import psycopg

    deadline = time.monotonic() + timeout
    conninfo = f"host={cluster.socket_dir} port={cluster.port} user={cluster.user} dbname=postgres"
    while True:
        try:
            with psycopg.connect(conninfo, connect_timeout=5) as conn:
                row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
            if row is not None and not row[0]:
                return
        except psycopg.OperationalError as exc:
            if "not accepting connections" not in str(exc) and "starting up" not in str(exc) \
                    and _server_running(data, tools):
                raise RecoveryFailed("the temporary PostgreSQL refused a connection: "
                                     f"{_tail(str(exc))}") from exc
        if not _server_running(data, tools):
            raise RecoveryFailed(_explain_failure(log, target))
        if time.monotonic() > deadline:
            raise RecoveryFailed(f"the temporary PostgreSQL had not reached {describe(target)} after "
                                 f"{timeout:g} s of WAL replay")
        time.sleep(0.1)


def _server_running(data: Path, tools: ServerTools) -> bool:
    status = _as_server_user(tools, [tools.program("pg_ctl"), "-D", str(data), "status"], timeout=30)
    return status.returncode == 0


def _prepare_data_folder(base: Path, wal_folder: Path, target: RecoveryTarget, socket_dir: Path) -> None:
    """Our own configuration, whatever the source had (a Debian cluster keeps its in /etc, and its
    ``ALTER SYSTEM`` settings may name libraries this machine lacks)."""
    for stale in ("postmaster.pid", "postmaster.opts", "standby.signal", "recovery.signal"):
        with suppress(FileNotFoundError):
            (base / stale).unlink()
    restore = f"cp {shlex.quote(str(wal_folder))}/%f %p"
    settings = {
        "listen_addresses": "",
        "port": str(SOCKET_PORT),
        "unix_socket_directories": str(socket_dir),
        "hba_file": str(base / "pg_hba.conf"),
        "ident_file": str(base / "pg_ident.conf"),
        "archive_mode": "off",
        "fsync": "off",
        "full_page_writes": "on",
        # no connections during recovery: the standby checks on max_connections & co then do not apply
        "hot_standby": "off",
        "restore_command": restore,
        **({"recovery_target_time": target.isoformat()} if isinstance(target, datetime)
           else {"recovery_target_name": target.name}),
        "recovery_target_action": "promote",
        "recovery_target_timeline": "current",
        "shared_preload_libraries": "",
        "logging_collector": "off",
    }
    lines = [f"{name} = {_conf_quote(value)}" for name, value in settings.items()]
    (base / "postgresql.conf").write_text("# written by despacho for a point-in-time recovery\n"
                                          + "\n".join(lines) + "\n", encoding="utf-8")
    (base / "postgresql.auto.conf").write_text("# emptied by despacho (recovery uses postgresql.conf)\n")
    (base / "pg_hba.conf").write_text("local all all trust\n", encoding="utf-8")
    (base / "pg_ident.conf").write_text("", encoding="utf-8")
    (base / "recovery.signal").touch()
    base.chmod(0o700)


def _conf_quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def _explain_failure(log: Path, target: RecoveryTarget) -> str:
    text = log.read_text(encoding="utf-8", errors="replace")[-_LOG_TAIL:] if log.is_file() else ""
    when = describe(target)
    if "recovery ended before configured recovery target was reached" in text:
        if isinstance(target, RestorePoint):
            # the restore point was archived before its snapshot was taken: a gap means lost WAL
            return (f"the WAL ends before {when}: a WAL segment between the base backup and it is "
                    f"missing or unreadable ({_last_restored(text)})")
        return (f"the WAL archive ends before {when}: nothing was archived after that time yet (set "
                "archive_timeout on the server, or run SELECT pg_switch_wal() there and retry)")
    if "before consistent recovery point" in text:
        return (f"{when} is before the base backup finished: pick an older base backup "
                "(despacho backup list --tag pg-base)")
    last = [line for line in text.splitlines() if "FATAL" in line or "PANIC" in line][-3:]
    return "the temporary PostgreSQL did not recover: " + (" | ".join(last) or _tail(text))


def _last_restored(log: str) -> str:
    found = re.findall(r'restored log file "([0-9A-F]{24})"', log)
    return f"the last segment replayed is {found[-1]}" if found else "no segment could be replayed"


def dump_database(cluster: RecoveredCluster, database: str, out: Path, tools: ServerTools, *,
                  timeout: float = 3600) -> Path:
    """``pg_dump -Fc`` of ``database`` from the recovered cluster into ``out``."""
    done = _run([tools.program("pg_dump"), "-Fc", "-f", str(out), "-d", database],
                env=cluster.env(database), timeout=timeout, what="pg_dump")
    if done.returncode != 0:
        raise RecoveryFailed(f"pg_dump of '{database}' from the recovered cluster failed: "
                             f"{_tail(done.stderr)}")
    return out


def query_value(cluster: RecoveredCluster, database: str, sql: str, tools: ServerTools) -> str:
    """The first value ``sql`` returns on the recovered cluster, as text."""
    done = _run([tools.program("psql"), "-XAtq", "-v", "ON_ERROR_STOP=1", "-c", sql],
                env=cluster.env(database), timeout=120, what="psql")
    if done.returncode != 0:
        raise RecoveryFailed(f"psql on the recovered cluster failed: {_tail(done.stderr)}")
    return done.stdout.decode().strip()


@contextmanager
def scratch_folder(parent: Path | None = None, run_as: str = "postgres") -> Iterator[Path]:
    """A private folder for a temporary cluster, removed afterwards. Under root it belongs to
    ``run_as`` (pytest's and many tools' temp folders are closed to other users)."""
    folder = Path(tempfile.mkdtemp(prefix="despacho-pitr-", dir=parent))
    try:
        if os.geteuid() == 0:
            _give_to(run_as, folder)
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _give_to(user: str, *paths: Path) -> None:
    try:
        entry = pwd.getpwnam(user)
    except KeyError as exc:
        raise BackupError(f"PostgreSQL cannot run as root and there is no '{user}' user to run the "
                          "temporary cluster (set connectors.backup.pitr_run_as)") from exc
    for path in paths:
        os.chown(path, entry.pw_uid, entry.pw_gid)
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                for name in (*dirs, *files):
                    os.chown(os.path.join(root, name), entry.pw_uid, entry.pw_gid, follow_symlinks=False)


def _as_server_user(tools: ServerTools, command: list[str], *,
                    timeout: float) -> subprocess.CompletedProcess[bytes]:
    if tools.as_other_user:
        command = ["runuser", "-u", tools.run_as, "--", *command]
    return _run(command, env=_clean_env(), timeout=timeout, what=Path(command[-1]).name)


def _run(command: list[str], *, env: Mapping[str, str], timeout: float,
         what: str) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(command, env=dict(env), stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=timeout, check=False)
    except FileNotFoundError as exc:
        raise BackupError(f"{what}: {exc.filename} is not installed") from exc
    except subprocess.TimeoutExpired as exc:
        raise BackupError(f"{what} took longer than {timeout:g} s and was stopped") from exc


def _clean_env() -> dict[str, str]:
    """The parent's environment without libpq and restic variables (they would redirect the child)."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("PG", "RESTIC_"))}


def _tail(data: bytes | str) -> str:
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return " | ".join(lines[-3:])[:600] or "(no message)"
