"""Attachments come from the attachments folder, or from the outbox when a step produced them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from connectors.messaging.attachments import AttachmentFolders, static_path_problem
from errors import PermanentError


@pytest.fixture
def folders(tmp_path: Path) -> AttachmentFolders:
    (tmp_path / "attachments").mkdir()
    (tmp_path / "outbox" / "backup").mkdir(parents=True)
    (tmp_path / "attachments" / "os-123.pdf").write_bytes(b"%PDF os 123")
    (tmp_path / "outbox" / "backup" / "b1.json").write_text("{}", encoding="utf-8")
    (tmp_path / "secret.keys").write_text("k1:secret", encoding="utf-8")
    return AttachmentFolders(folder=tmp_path / "attachments", produced=tmp_path / "outbox")


def refused(folders: AttachmentFolders, source: str,
            produced: frozenset[str] = frozenset()) -> PermanentError:
    with pytest.raises(PermanentError) as raised:
        folders.read(source, produced)
    return raised.value


def test_a_relative_path_is_read_from_the_attachments_folder(folders: AttachmentFolders) -> None:
    attachment = folders.read("os-123.pdf")
    assert (attachment.source, attachment.filename) == ("os-123.pdf", "os-123.pdf")
    assert attachment.data == b"%PDF os 123"


def test_an_absolute_path_inside_the_attachments_folder_is_read(folders: AttachmentFolders) -> None:
    assert folders.read(str(folders.folder / "os-123.pdf")).data == b"%PDF os 123"


OUTSIDE = ["../secret.keys", "/etc/passwd", "/proc/self/environ", "..", "a/../../secret.keys"]


@pytest.mark.parametrize("source", OUTSIDE)
def test_a_path_outside_the_attachments_folder_is_refused_naming_it(folders: AttachmentFolders,
                                                                    source: str) -> None:
    error = refused(folders, source)
    assert error.code == "attachment_refused"
    assert str(error).startswith(f"attachment {source!r} is outside")


def test_a_symlink_out_of_the_folder_is_refused(folders: AttachmentFolders, tmp_path: Path) -> None:
    os.symlink(tmp_path / "secret.keys", folders.folder / "relatorio.pdf")
    assert refused(folders, "relatorio.pdf").code == "attachment_refused"


def test_a_folder_or_a_fifo_is_not_a_regular_file(folders: AttachmentFolders) -> None:
    (folders.folder / "sub").mkdir()
    os.mkfifo(folders.folder / "pipe")
    assert refused(folders, "sub").code == "attachment_refused"
    assert refused(folders, "pipe").code == "attachment_refused"  # and opening it did not block


def test_a_missing_file_is_attachment_missing(folders: AttachmentFolders) -> None:
    assert refused(folders, "relatorio.pdf").code == "attachment_missing"


def test_an_outbox_file_is_read_only_when_an_earlier_step_produced_it(folders: AttachmentFolders) -> None:
    produced = str(folders.produced / "backup" / "b1.json")
    assert refused(folders, produced).code == "attachment_refused"
    assert folders.read(produced, frozenset({produced})).data == b"{}"


def test_a_produced_path_outside_both_folders_is_still_refused(folders: AttachmentFolders,
                                                               tmp_path: Path) -> None:
    produced = str(tmp_path / "secret.keys")
    assert refused(folders, produced, frozenset({produced})).code == "attachment_refused"


@pytest.mark.parametrize(("text", "problem"), [
    ("relatorios/os-123.pdf", None),
    ("os-123.pdf", None),
    ("/etc/passwd", "must be relative"),
    ("C:\\segredo.pdf", "must be relative"),
    ("\\\\servidor\\x.pdf", "must be relative"),
    ("../api/jwt.keys", "cannot contain '..'"),
    ("a\\..\\..\\b", "cannot contain '..'"),
])
def test_static_paths_in_rules_must_stay_inside_the_folder(text: str, problem: str | None) -> None:
    found = static_path_problem(text)
    assert (found is None) if problem is None else (found is not None and problem in found)
