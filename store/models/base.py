"""What every table shares: the naming convention, timestamps, field normalizers."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from sqlmodel import Field, SQLModel

if TYPE_CHECKING:
    from sqlalchemy import Table

from store.types import UTCDateTime, utcnow

# Named constraints make migrations reproducible: PostgreSQL drops them by
# name on downgrade and SQLite's batch mode recreates them by name.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

Normalizer = Callable[[str, Any], Any]


def timestamp(*, nullable: bool = True, index: bool = False, default_now: bool = False,
              onupdate: bool = False, description: str | None = None) -> Any:
    """A UTC, tz-aware timestamp column; ``onupdate`` refreshes it on every UPDATE."""
    kwargs: dict[str, Any] = {"onupdate": utcnow} if onupdate else {}
    if default_now:
        return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False, index=index,
                     sa_column_kwargs=kwargs, description=description)
    return Field(default=None, sa_type=UTCDateTime, nullable=nullable, index=index,
                 sa_column_kwargs=kwargs, description=description)


class Record(SQLModel):
    """Base of the tables; ``normalizers`` run before every flush (see ``store.guards``)."""

    normalizers: ClassVar[dict[str, Normalizer]] = {}
    entity: ClassVar[str] = "record"
    if TYPE_CHECKING:  # set by SQLAlchemy on each table class; SQLModel does not declare it
        __table__: ClassVar[Table]
