"""``despacho backup run|list|verify|restore|forget``: the restic repository from the command line."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from commands.common import EXIT_PROBLEMS, FormatFlag, console, fail, settings_from, stderr, wants_json
from commands.output import plain, print_json, print_table

if TYPE_CHECKING:
    from connectors.backup.backups import Step
    from connectors.backup.service import BackupService
    from engine.settings import Settings

backup_app = typer.Typer(help="Backups: restic snapshots of the database, rules, templates and config.",
                         no_args_is_help=True)

SnapshotArg = Annotated[str, typer.Argument(help="Snapshot id (a unique prefix of 8+ hex digits) or latest")]


def make_service(settings: Settings, *, record: bool = True) -> BackupService:
    """The service of the configured repository; ``record``: backups rows and events in the database."""
    from functools import partial

    from connectors.backup.repository import open_repository
    from connectors.backup.service import BackupService
    from engine.runtime.compose import backup_sources

    backup = settings.connectors.backup
    session_factory = None
    if record:
        from store.db import make_engine, session_scope

        session_factory = partial(session_scope, make_engine(settings.database.url))

    def secret(name: str) -> str:
        from store.db import make_engine, session_scope
        from store.secrets import SecretBox, get_secret, load_ring

        engine = make_engine(settings.database.url)
        try:
            with session_scope(engine) as session:
                return get_secret(session, SecretBox(load_ring(settings.secrets)), name)
        finally:
            engine.dispose()

    return BackupService(backup, backup_sources(settings), lambda: open_repository(backup, secret=secret),
                         session_factory)


def backup_before(settings: Settings, *, tag: str, doing: str, skip_hint: str) -> str | None:
    """A snapshot taken before a risky change (a migration, an import); its id, or None without restic.

    A backup that fails stops the change: the admin fixes it, or says ``--no-backup``.
    """
    from errors import DespachoError

    if settings.connectors.backup.transport != "restic":
        stderr.print(f"note: no backup before {doing} (connectors.backup.transport is not restic)")
        return None
    with reported():
        try:
            result = make_service(settings).run(tags=[tag])
        except DespachoError as exc:
            fail(f"no backup could be taken before {doing}, so nothing was changed: {exc}\n"
                 f"(fix the backup, or run '{skip_hint}' to go on without one)", EXIT_PROBLEMS)
    console.print(f"backed up before {doing}: snapshot {result.snapshot_id}")
    return result.snapshot_id


@contextmanager
def reported() -> Iterator[None]:
    """A backup failure is one line on stderr and exit 1 (the password is never in it)."""
    from connectors.backup.errors import BackupError
    from store.errors import NoSuchDatabase

    try:
        yield
    except (BackupError, NoSuchDatabase) as exc:
        fail(plain(str(exc)), EXIT_PROBLEMS)


@contextmanager
def progress_bars(enabled: bool) -> Iterator[Step | None]:
    """Rich progress bars on stderr, one per phase (database, files, upload, check...)."""
    if not enabled:
        yield None
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    tasks: dict[str, Any] = {}
    with Progress(TextColumn("{task.description:<14}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                  TimeElapsedColumn(), console=stderr, transient=False) as bars:
        def step(phase: str, fraction: float) -> None:
            if phase not in tasks:
                tasks[phase] = bars.add_task(phase, total=1.0)
            bars.update(tasks[phase], completed=max(0.0, min(1.0, fraction)))

        yield step


@backup_app.command("run")
def run(
    ctx: typer.Context,
    verify: Annotated[bool | None, typer.Option("--verify/--no-verify",
                                                help="Test-restore the snapshot (default: "
                                                     "connectors.backup.verify)")] = None,
    forget: Annotated[bool, typer.Option("--forget", help="Apply the retention policy afterwards")] = False,
    tag: Annotated[list[str] | None, typer.Option("--tag", help="Extra restic tag")] = None,
    at: Annotated[datetime | None, typer.Option("--time", hidden=True,
                                                help="Date the snapshot (tests of retention)")] = None,
    full: Annotated[bool, typer.Option(
        "--full", help="A full backup (dump, and base backup when wal_archive is set) whatever "
                       "full_every says")] = False,
    incremental: Annotated[bool, typer.Option(
        "--incremental",
        help="PostgreSQL with wal_archive: only the WAL since the last base backup")] = False,
    output: FormatFlag = "text",
) -> None:
    """Back up the database, rules, templates and config into the repository, then verify it.

    With connectors.backup.wal_archive (PostgreSQL) the backup is full when the newest full one is
    older than full_every (7 days), else incremental."""
    from datetime import UTC

    from commands.common import EXIT_USAGE

    if full and incremental:
        fail("--full and --incremental exclude each other", EXIT_USAGE)
    as_json = wants_json(output)
    service = make_service(settings_from(ctx))
    with reported(), progress_bars(not as_json) as step:
        result = service.run(tags=tag or [], at=at.replace(tzinfo=at.tzinfo or UTC) if at else None,
                             verify=verify, forget=forget, step=step,
                             kind="full" if full else "incremental" if incremental else "auto")
    outcome, manifest = result.outcome, result.outcome.manifest
    body = {"snapshot_id": result.snapshot_id, "backup_id": result.backup_id, "kind": manifest.kind,
            "engine": manifest.engine, "revision": manifest.revision, "tables": manifest.tables,
            "rows": manifest.rows, "base_snapshot": manifest.base_snapshot,
            "restore_point": manifest.restore_point, "size_bytes": outcome.size_bytes,
            "data_added": outcome.summary.data_added, "duration_seconds": round(outcome.duration, 3),
            "verified": result.verified is not None,
            "forgotten": list(result.forgotten.removed) if result.forgotten else []}
    if as_json:
        print_json(console, body)
        return
    if manifest.incremental:
        console.print(f"snapshot {result.snapshot_id}: incremental from base backup "
                      f"{(manifest.base_snapshot or '')[:8]} to restore point {manifest.restore_point} "
                      f"(WAL segment {manifest.wal_file}), revision {manifest.revision}, "
                      f"{outcome.summary.data_added} bytes added, {outcome.duration:.1f} s")
    else:
        console.print(f"snapshot {result.snapshot_id}: {manifest.engine} at revision {manifest.revision}, "
                      f"{manifest.rows} rows in {len(manifest.tables)} tables, {outcome.size_bytes} bytes "
                      f"read, {outcome.summary.data_added} bytes added, {outcome.duration:.1f} s")
    if result.verified and manifest.incremental:
        console.print(f"verified: base backup and WAL recovered to the restore point, revision "
                      f"{result.verified.revision}, {result.verified.rows} rows in "
                      f"{len(result.verified.tables)} tables")
    elif result.verified:
        console.print("verified: test restore matches the manifest")
    else:
        console.print("not verified")
    if result.forgotten:
        console.print(f"retention: {len(result.forgotten.removed)} snapshots forgotten, "
                      f"{len(result.forgotten.kept)} kept")


@backup_app.command("list")
def list_snapshots(
    ctx: typer.Context,
    details: Annotated[bool, typer.Option("--details",
                                          help="Read each snapshot's manifest (slower)")] = False,
    tag: Annotated[str, typer.Option("--tag", help="despacho (daily backups), pg-base or pg-wal (point in "
                                                   "time)")] = "despacho",
    output: FormatFlag = "text",
) -> None:
    """The snapshots in the repository, oldest first."""
    from rich.table import Table

    from connectors.backup.incremental import BASE_REF, INCREMENTAL_TAG, base_of, kind_of
    from connectors.backup.verify import load_manifest

    as_json = wants_json(output)
    details = details and tag == "despacho"  # only daily backups carry a manifest
    service = make_service(settings_from(ctx), record=False)
    with reported():
        snapshots = service.restic.snapshots(tags=[tag])
        rows: list[dict[str, Any]] = []
        for snap in snapshots:
            row: dict[str, Any] = {"id": snap.short_id, "time": snap.time.isoformat(timespec="seconds"),
                                   "kind": kind_of(snap) if tag == "despacho" else tag,
                                   "base": (base_of(snap) or "")[:8] or None,
                                   "tags": [t for t in snap.tags if t not in ("despacho", INCREMENTAL_TAG)
                                            and not t.startswith(BASE_REF)]}
            if details:
                manifest = load_manifest(service.restic, snap)
                # an incremental manifest counts no rows (its verify reads them from the recovery)
                row.update(engine=manifest.engine, revision=manifest.revision,
                           rows=None if manifest.incremental else manifest.rows,
                           rules_commit=manifest.rules_commit)
            rows.append(row)
    if as_json:
        print_json(console, rows)
        return
    table = Table("snapshot", "time", "kind", "base", "tags",
                  *(("engine", "revision", "rows") if details else ()))
    for row in rows:
        extra = (row["engine"], str(row["revision"]), "-" if row["rows"] is None else str(row["rows"])) \
            if details else ()
        table.add_row(row["id"], row["time"], row["kind"], row["base"] or "", plain(",".join(row["tags"])),
                      *extra)
    print_table(console, table)
    console.print(f"{len(rows)} snapshots in {service.repository}")


@backup_app.command("verify")
def verify(
    ctx: typer.Context,
    snapshot: SnapshotArg = "latest",
    read_data_subset: Annotated[str | None, typer.Option(
        "--read-data-subset",
        help="Also read back this share of the repository's data (10%, 1/5, 500M)")] = None,
    output: FormatFlag = "text",
) -> None:
    """restic check, then a test restore into a scratch database compared with the manifest."""
    as_json = wants_json(output)
    service = make_service(settings_from(ctx))
    with reported(), progress_bars(not as_json) as step:
        report = service.verify(snapshot, read_data_subset=read_data_subset, step=step)
    body = {"snapshot_id": report.snapshot_id, "engine": report.engine, "revision": report.revision,
            "tables": report.tables, "rows": report.rows, "ok": True}
    if as_json:
        print_json(console, body)
        return
    console.print(f"snapshot {report.snapshot_id[:8]}: ok — restic check passed, the test restore "
                  f"({report.engine}, revision {report.revision}) has the manifest's {report.rows} rows "
                  f"in {len(report.tables)} tables")


@backup_app.command("restore")
def restore(
    ctx: typer.Context,
    snapshot: SnapshotArg,
    target: Annotated[str | None, typer.Option(
        "--target", metavar="URL", help="Database URL to restore into (default: database.url)")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace a target that holds data (it is backed up "
                                                        "first)")] = False,
    to_time: Annotated[str | None, typer.Option(
        "--to-time", metavar="TIME",
        help="PostgreSQL: the database as it was at TIME (2026-12-05T14:30, zone optional: default the "
             "configured one), from base backup SNAPSHOT (latest: the newest before TIME) and the WAL "
             "archive")] = None,
    output: FormatFlag = "text",
) -> None:
    """Restore SNAPSHOT's database into the target, migrate it forward, print the rows per table.

    Stop despacho (run, worker, api) on the target first: the database is replaced underneath it.
    """
    from rich.table import Table

    as_json = wants_json(output)
    settings = settings_from(ctx)
    when = _point_in_time(to_time, settings.timezone) if to_time is not None else None
    service = make_service(settings, record=False)
    with reported(), progress_bars(not as_json) as step:
        if when is not None:
            from connectors.backup.pitr import restore_to_time

            report = restore_to_time(service, when, target, base_snapshot=snapshot, force=force, step=step)
        else:
            report = service.restore(snapshot, target, force=force, step=step)
    body = {"snapshot_id": report.snapshot_id, "target": report.target, "engine": report.engine,
            "snapshot_revision": report.snapshot_revision, "revision": report.revision,
            "migrated": report.migrated, "safety_snapshot": report.safety_snapshot, "tables": report.tables,
            "notes": report.notes}
    if as_json:
        print_json(console, body)
        return
    if report.safety_snapshot:
        console.print(f"safety backup of the target: snapshot {report.safety_snapshot}")
    console.print(f"restored snapshot {report.snapshot_id[:8]} into {report.target}")
    if report.migrated:
        console.print(f"migrated forward: {report.snapshot_revision} -> {report.revision}")
    table = Table("table", "rows")
    for name, count in sorted(report.tables.items()):
        table.add_row(name, str(count))
    print_table(console, table)
    for note in report.notes:
        console.print(f"note: {note}")


@backup_app.command("forget")
def forget(
    ctx: typer.Context,
    prune: Annotated[bool, typer.Option("--prune", help="Also delete the data only forgotten snapshots "
                                                        "used (frees space)")] = False,
    keep_daily: Annotated[int | None, typer.Option(
        min=0, help="Default: connectors.backup.keep_daily")] = None,
    keep_weekly: Annotated[int | None, typer.Option(min=0, help="Default: keep_weekly")] = None,
    keep_monthly: Annotated[int | None, typer.Option(min=0, help="Default: keep_monthly")] = None,
    output: FormatFlag = "text",
) -> None:
    """Apply the retention policy (7 daily, 4 weekly, 12 monthly unless configured)."""
    as_json = wants_json(output)
    service = make_service(settings_from(ctx), record=False)
    with reported():
        result = service.forget(prune=prune, keep_daily=keep_daily, keep_weekly=keep_weekly,
                                keep_monthly=keep_monthly)
    if as_json:
        print_json(console, {"kept": list(result.kept), "removed": list(result.removed), "pruned": prune})
        return
    console.print(f"{len(result.kept)} snapshots kept, {len(result.removed)} forgotten"
                  + (", unused data pruned" if prune else " (run with --prune to free the space)"))


def _point_in_time(text: str, zone: str) -> datetime:
    """``--to-time``: ISO 8601, with or without a zone (without: the configured time zone)."""
    from zoneinfo import ZoneInfo

    from commands.common import EXIT_USAGE

    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        fail(f"--to-time '{plain(text)[:60]}' is not a time: write 2026-12-05T14:30 or "
             "2026-12-05T14:30:00-03:00", EXIT_USAGE)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=ZoneInfo(zone))


@backup_app.command("base")
def base(ctx: typer.Context, output: FormatFlag = "text") -> None:
    """PostgreSQL: a base backup (pg_basebackup) into the repository, for restores to a point in time."""
    from pathlib import Path

    from connectors.backup.pitr import backup_base

    as_json = wants_json(output)
    settings = settings_from(ctx)
    service = make_service(settings, record=False)
    with reported():
        backup = settings.connectors.backup
        snapshot_id = backup_base(service.restic, settings.database.url, Path(backup.staging),
                                  bin_dir=backup.postgres_bin)
    if as_json:
        print_json(console, {"snapshot_id": snapshot_id})
        return
    console.print(f"base backup stored: snapshot {snapshot_id} (tag pg-base)")


@backup_app.command("push-wal")
def push_wal(ctx: typer.Context, output: FormatFlag = "text") -> None:
    """PostgreSQL: copy the WAL archive folder (connectors.backup.wal_archive) into the repository."""
    from pathlib import Path

    from commands.common import EXIT_USAGE
    from connectors.backup.pitr import push_wal as push

    as_json = wants_json(output)
    settings = settings_from(ctx)
    archive = settings.connectors.backup.wal_archive
    if not archive:
        fail("connectors.backup.wal_archive is not set: see 'Point in time' in docs/connectors/backup.md",
             EXIT_USAGE)
    service = make_service(settings, record=False)
    with reported():
        snapshot_id = push(service.restic, Path(archive))
    if as_json:
        print_json(console, {"snapshot_id": snapshot_id})
        return
    console.print(f"WAL archive stored: snapshot {snapshot_id} (tag pg-wal)" if snapshot_id
                  else f"the WAL archive {archive} is empty: nothing stored")


def register(app: typer.Typer) -> None:
    app.add_typer(backup_app, name="backup")
