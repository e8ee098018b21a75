"""Which files an email may attach: those in the attachments folder, and those despacho made.

An attachment path is rendered from the rule, and the rule may take it from
event data: ``attachments: ["{{ data.path }}"]`` once mailed the API's JWT
signing key and ``/proc/self/environ``. So a path is attached only when its
real path (symlinks resolved) lies

- inside the attachments folder (``connectors.email.attachments_dir``), a
  relative path being read from there; or
- inside the outbox folder, when the path is a file an earlier step of the
  same run produced (its ``path`` output, e.g. ``steps.backup.path``): despacho
  wrote it, the event did not name it.

The file is opened without following a last symlink and must be a regular
file (no FIFO, device or ``/proc`` entry). Anything else is a
``PermanentError`` naming the attachment.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath

from connectors.messaging.headers import check_text
from errors import PermanentError

REFUSED = "attachment_refused"
MISSING = "attachment_missing"


@dataclass(frozen=True)
class Attachment:
    """A file read for an email: the path as the rule gave it, its file name and its bytes."""

    source: str
    filename: str
    data: bytes


@dataclass(frozen=True)
class AttachmentFolders:
    """Where attachments may come from; see the module's docstring."""

    folder: Path    # connectors.email.attachments_dir
    produced: Path  # the outbox, where steps write the files they produce

    def read(self, source: str, produced_files: Collection[str] = ()) -> Attachment:
        """The file ``source`` names, read; raises ``PermanentError`` (``attachment_refused`` or
        ``attachment_missing``)."""
        if not isinstance(source, str) or not source.strip() or "\x00" in source:
            raise PermanentError(f"attachment {source!r} is not a file path", code=REFUSED)
        path = Path(source)
        roots = [self.folder]
        if source in produced_files:
            roots.append(self.produced)
        real = Path(os.path.realpath(path if path.is_absolute() else self.folder / path))
        if not any(real.is_relative_to(os.path.realpath(root)) for root in roots):
            where = " or ".join(f"{root}/" for root in roots)
            raise PermanentError(f"attachment {source!r} is outside {where}: only files in the attachments "
                                 f"folder (connectors.email.attachments_dir), or files an earlier step "
                                 f"produced, can be attached", code=REFUSED)
        check_text(real.name, f"attachment {source!r} file name")
        return Attachment(source, real.name, _read_regular_file(real, source))


def _read_regular_file(path: Path, source: str) -> bytes:
    try:
        # O_NOFOLLOW: a symlink swapped in after the check above is not followed
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        # the step that should have produced the file did not: retrying this one cannot help
        raise PermanentError(f"attachment {source!r} cannot be read: {exc.strerror or exc}",
                             code=MISSING) from exc
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise PermanentError(f"attachment {source!r} is not a regular file", code=REFUSED)
    with os.fdopen(fd, "rb") as file:
        return file.read()


def static_path_problem(text: str) -> str | None:
    """Why a literal attachment path in a rule is refused by ``despacho validate``, or None."""
    if PurePosixPath(text).is_absolute() or PureWindowsPath(text).is_absolute() or text.startswith("\\"):
        return ("an attachment path must be relative to the attachments folder "
                "(connectors.email.attachments_dir)")
    if ".." in PurePosixPath(text.replace("\\", "/")).parts:
        return "an attachment path cannot contain '..'"
    return None
