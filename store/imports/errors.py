"""What can go wrong with an import, each naming the file, row and column at fault."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from store.errors import StoreError

if TYPE_CHECKING:
    from store.imports.apply import RowProblem


class MappingInvalid(StoreError):
    """The mapping file is not usable: ``where`` is ``FILE`` or ``FILE: field``."""


class SourceUnreadable(StoreError):
    """The CSV/XLSX file cannot be read as a table (encoding, size, header)."""


class ImportRejected(StoreError):
    """Rows were refused: nothing was imported. ``problems`` lists each (file, row, column, message)."""

    def __init__(self, problems: Sequence[RowProblem]) -> None:
        self.problems = list(problems)
        first = self.problems[0]
        more = f" (and {len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
        super().__init__(f"{first}{more}: nothing was imported")
