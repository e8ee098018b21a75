"""What ``despacho import`` brought in: the source system's id of each record, for idempotent re-runs."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

import sqlalchemy as sa
from sqlmodel import Field

from store.models.base import Record, timestamp
from store.types import new_id


class ImportKey(Record, table=True):
    """Row ``source_id`` of a ``kind`` (customers, orders...) from the system ``source`` became
    despacho's ``record_id``.

    Unique ``(source, kind, source_id)``: importing the same file again updates the records
    it made instead of making them twice.
    """

    __tablename__ = "import_keys"
    __table_args__ = (sa.UniqueConstraint("source", "kind", "source_id"),)
    entity: ClassVar[str] = "import_key"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    source: str = Field(max_length=60)
    kind: str = Field(max_length=30)
    source_id: str = Field(max_length=200)
    record_id: str = Field(max_length=36, index=True)
    imported_at: datetime = timestamp(default_now=True)
    updated_at: datetime = timestamp(default_now=True, onupdate=True)
