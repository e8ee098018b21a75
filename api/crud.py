"""The few steps every resource route repeats: find a live row, apply a patch, soft-delete."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any, Literal, TypeVar

from fastapi import Depends, Query, Request
from pydantic import BaseModel
from sqlmodel import Session

from engine.runtime.outbox import Transaction
from store.db import session_scope
from store.errors import NotFound
from store.listing import ListSpec
from store.models.base import Record
from store.types import utcnow

R = TypeVar("R", bound=Record)


def _session(request: Request) -> Any:
    yield from request.app.state.ctx.session()


def _transaction(request: Request) -> Iterator[Transaction]:
    """A transaction whose queued steps are sent right after the commit (a dead-letter retry).

    Without the engine's core in this process (an app built for a test) nothing is
    sent: the steps stay queued in the database, where a daemon's reaper finds them.
    """
    ctx = request.app.state.ctx
    if ctx.core is not None:
        with ctx.core.transaction() as tx:
            yield tx
        return
    with session_scope(ctx.engine) as session:
        yield Transaction(session)


DbSession = Annotated[Session, Depends(_session)]
DbTransaction = Annotated[Transaction, Depends(_transaction)]
Limit = Annotated[int, Query(ge=1, le=200, description="Items per page")]
Cursor = Annotated[str | None, Query(max_length=1000, description="next_cursor of the previous page")]


def sort_type(spec: ListSpec[Any]) -> Any:
    """The ``sort`` query parameter of a list: its fields, ascending or with '-' descending."""
    choices = tuple(name for field in spec.sort_fields for name in (field, f"-{field}"))
    return Annotated[Literal[choices] | None,  # type: ignore[valid-type]
                     Query(description=f"Default {spec.default_sort}; '-' means descending")]


def get_live(session: Session, model: type[R], record_id: str) -> R:
    record = session.get(model, record_id)
    if record is None or getattr(record, "deleted_at", None) is not None:
        raise NotFound(model.entity, record_id, field="id")
    return record


def apply_patch(record: Record, patch: BaseModel) -> Record:
    for name, value in patch.model_dump(exclude_unset=True).items():
        setattr(record, name, value)
    return record


def soft_delete(record: Record) -> None:
    # rows stay for history and foreign keys; every list and get skips them
    record.deleted_at = utcnow()  # type: ignore[attr-defined]
