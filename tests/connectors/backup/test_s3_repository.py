"""An S3-compatible repository: real restic against a local S3 server (moto), keys from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.backup.errors import BackupError
from connectors.backup.restic import Restic
from tests.fakes.s3 import ACCESS_KEY, SECRET_KEY, local_s3

PASSWORD = "s3-repository-password-not-in-logs"
KEYS = {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}


def test_a_snapshot_goes_to_the_bucket_and_comes_back(tmp_path: Path) -> None:
    source = tmp_path / "data"
    source.mkdir()
    (source / "despacho.dump").write_bytes(b"orders and invoices " * 1000)
    with local_s3() as s3:
        s3.create_bucket("despacho-backups")
        restic = Restic(s3.repository("despacho-backups", "acme"), PASSWORD, env=KEYS)
        assert restic.ensure_repository() is True
        assert restic.ensure_repository() is False  # opened, not created again
        snapshot_id = restic.backup([source], tags=["daily"])
        assert [s.id[:len(snapshot_id)] for s in restic.snapshots(tags=["daily"])] == [snapshot_id]
        restic.check(read_data_subset="100%")
        restic.restore(snapshot_id, tmp_path / "back")
        objects = s3.objects("despacho-backups")

    restored = tmp_path / "back" / str(source.resolve()).lstrip("/") / "despacho.dump"
    assert restored.read_bytes() == (source / "despacho.dump").read_bytes()
    assert "acme/config" in objects and any(key.startswith("acme/data/") for key in objects)


def test_a_wrong_password_fails_without_showing_it_or_the_keys() -> None:
    # moto accepts any signature, so a wrong key cannot be told from a right one here; a wrong
    # repository password is refused by restic itself
    with local_s3() as s3:
        s3.create_bucket("despacho-backups")
        Restic(s3.repository("despacho-backups"), PASSWORD, env=KEYS).ensure_repository()
        wrong = Restic(s3.repository("despacho-backups"), "not-the-password-0000", env=KEYS)
        with pytest.raises(BackupError) as caught:
            wrong.snapshots()
    message = str(caught.value)
    assert "password" in message.lower()
    for secret in (PASSWORD, "not-the-password-0000", SECRET_KEY):
        assert secret not in message


def test_a_missing_bucket_is_reported_as_unavailable_without_the_keys() -> None:
    with local_s3() as s3:
        restic = Restic(s3.repository("no-such-bucket"), PASSWORD, env=KEYS)
        with pytest.raises(BackupError) as caught:
            restic.snapshots()
    assert SECRET_KEY not in str(caught.value) and PASSWORD not in str(caught.value)


def test_the_configured_s3_repository_reads_its_keys_from_the_named_variables(tmp_path: Path) -> None:
    from connectors.backup.repository import open_repository
    from connectors.backup.settings import BackupSettings

    source = tmp_path / "data"
    source.mkdir()
    (source / "rules.yaml").write_text("rules: []\n")
    with local_s3() as s3:
        s3.create_bucket("acme-backups")
        settings = BackupSettings(transport="restic", repository=s3.repository("acme-backups", "despacho"),
                                  password_env="ACME_BACKUP_PASSWORD", s3_access_key_env="ACME_S3_KEY",
                                  s3_secret_key_env="ACME_S3_SECRET", s3_region="us-east-1")
        environ = {"ACME_BACKUP_PASSWORD": PASSWORD, "ACME_S3_KEY": ACCESS_KEY, "ACME_S3_SECRET": SECRET_KEY}
        restic = open_repository(settings, environ=environ)
        restic.ensure_repository()
        restic.backup([source], tags=["despacho"])
        assert len(restic.snapshots(tags=["despacho"])) == 1
        assert SECRET_KEY not in repr(restic) and PASSWORD not in repr(restic)
        assert any(key.startswith("despacho/snapshots/") for key in s3.objects("acme-backups"))
