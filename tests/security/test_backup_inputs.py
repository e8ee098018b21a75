"""Hostile input to the backup wrapper: ids and paths that try to escape, passwords that try to leak."""

from __future__ import annotations

import io
import shutil
import stat
from pathlib import Path

import pytest
from pydantic import ValidationError

from connectors.backup.errors import UnsafeInput
from connectors.backup.restic import Restic
from connectors.backup.settings import BackupSettings

PASSWORD = "s3cr3t-pa55word-never-shown"


@pytest.fixture
def restic(tmp_path: Path) -> Restic:
    if shutil.which("restic") is None:
        pytest.fail("restic is not installed: run 'make tools' (apt-get install restic)")
    repo = Restic(str(tmp_path / "repo"), PASSWORD, env={"RESTIC_CACHE_DIR": str(tmp_path / "cache")})
    repo.ensure_repository()
    return repo


@pytest.mark.parametrize("snapshot_id", [
    "--password-command=sh -c id", "../../etc", "latest; rm -rf /", "abc", "ABCDEF12", "deadbeef\n",
    "", "0" * 65, "-deadbeef",
])
def test_snapshot_ids_other_than_hex_or_latest_are_refused(restic: Restic, tmp_path: Path,
                                                           snapshot_id: str) -> None:
    with pytest.raises(UnsafeInput):
        restic.restore(snapshot_id, tmp_path / "out")
    with pytest.raises(UnsafeInput):
        restic.dump(snapshot_id, "/x", io.BytesIO())
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("path", ["relative/file", "/a/../../etc/passwd", "/a/\x00b", "--target=/", "/a\n/b",
                                  ""])
def test_paths_inside_a_snapshot_must_be_absolute_and_stay_put(restic: Restic, tmp_path: Path,
                                                              path: str) -> None:
    with pytest.raises(UnsafeInput):
        restic.dump("deadbeef", path, io.BytesIO())
    with pytest.raises(UnsafeInput):
        restic.restore("deadbeef", tmp_path / "out", include=[path])


@pytest.mark.parametrize("tag", ["a,b", "--host=x", "has space", "x" * 101, ""])
def test_tags_that_could_become_options_or_lists_are_refused(restic: Restic, tmp_path: Path,
                                                             tag: str) -> None:
    with pytest.raises(UnsafeInput):
        restic.backup([tmp_path], tags=[tag])


@pytest.mark.parametrize("url", ["s3:https://AKIA:secretkey@minio.example/bucket",
                                 "s3:user@host/bucket", "ftp://host/x"])
def test_repository_urls_with_credentials_or_unknown_kinds_are_refused(url: str) -> None:
    with pytest.raises(ValidationError) as info:
        BackupSettings(repository=url)
    assert "secretkey" not in str(info.value).replace(url, "")


def test_password_reaches_restic_through_its_environment_only(restic: Restic, tmp_path: Path) -> None:
    """A wrapper program records restic's argv and environment, then runs the real restic."""
    log = tmp_path / "argv.log"
    wrapper = tmp_path / "restic-wrapper"
    wrapper.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> {log}\n'
                       f'[ "$RESTIC_PASSWORD" = "{PASSWORD}" ] || exit 99\n'
                       f'exec {shutil.which("restic")} "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    spy = Restic(restic.repository, PASSWORD, env={"RESTIC_CACHE_DIR": str(tmp_path / "cache")},
                 binary=str(wrapper))
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "f").write_text("x")
    snapshot_id = spy.backup([tmp_path / "data"], tags=["despacho"])
    spy.snapshots()
    spy.check()
    spy.dump(snapshot_id, f"{(tmp_path / 'data').resolve()}/f", io.BytesIO())
    recorded = log.read_text()
    assert recorded.count("\n") == 4
    assert PASSWORD not in recorded and str(restic.repository) not in recorded


def test_errors_never_carry_the_password_even_when_restic_echoes_it(tmp_path: Path) -> None:
    echo = tmp_path / "echo-restic"
    echo.write_text('#!/bin/sh\necho "Fatal: boom with $RESTIC_PASSWORD at $RESTIC_REPOSITORY" >&2\nexit 1\n')
    echo.chmod(echo.stat().st_mode | stat.S_IXUSR)
    leaky = Restic("s3:https://minio.example/bucket", PASSWORD, binary=str(echo))
    with pytest.raises(Exception) as info:
        leaky.snapshots()
    assert PASSWORD not in str(info.value) and "boom" in str(info.value)


def test_an_inherited_password_command_is_not_passed_on(restic: Restic, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    marker = tmp_path / "ran"
    monkeypatch.setenv("RESTIC_PASSWORD_COMMAND", f"sh -c 'touch {marker}; echo x'")
    restic.snapshots()
    assert not marker.exists()
