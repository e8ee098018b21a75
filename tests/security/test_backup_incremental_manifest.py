"""A tampered incremental manifest: its restore point goes into a recovery's postgresql.conf and its base
snapshot into restic's arguments, so only the shapes despacho writes are read."""

from __future__ import annotations

import json

import pytest

from connectors.backup.errors import BackupCorrupted
from connectors.backup.manifest import Manifest


def _manifest(**changes: object) -> str:
    raw: dict[str, object] = {"created_at": "2026-12-05T10:00:00+00:00", "despacho_version": "1",
                              "engine": "postgresql", "engine_version": "15", "revision": "abc", "tables": {},
                              "dumps": {}, "kind": "incremental", "base_snapshot": "0123abcd" * 8,
                              "restore_point": "despacho-20261205T100000Z-0a1b2c3d"}
    raw.update(changes)
    return json.dumps(raw)


def test_a_well_formed_incremental_manifest_is_read() -> None:
    manifest = Manifest.from_json(_manifest())
    assert manifest.incremental and manifest.restore_point and manifest.base_snapshot


@pytest.mark.parametrize("point", ["x'\narchive_command = 'rm -rf /", "x' ; recovery_target_action='shutdown",
                                   "-" * 5, "a" * 64, "ponto com espaço"])
def test_a_restore_point_that_could_rewrite_the_recovery_configuration_is_refused(point: str) -> None:
    with pytest.raises(BackupCorrupted, match="restore_point"):
        Manifest.from_json(_manifest(restore_point=point))


@pytest.mark.parametrize("base", ["--help", "latest", "../../etc", "0123abc"])
def test_a_base_snapshot_that_is_no_snapshot_id_is_refused(base: str) -> None:
    with pytest.raises(BackupCorrupted, match="base_snapshot"):
        Manifest.from_json(_manifest(base_snapshot=base))


def test_an_unknown_kind_is_refused() -> None:
    with pytest.raises(BackupCorrupted, match="unknown kind"):
        Manifest.from_json(_manifest(kind="differential"))
