"""The few steps every resource route repeats: find a live row, apply a patch, soft-delete."""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

from fastapi import Depends, Query, Request
from pydantic import BaseModel
from sqlmodel import Session

from store.errors import NotFound
from store.listing import ListSpec
from store.models.base import Record
from store.types import utcnow

R = TypeVar("R", bound=Record)


def _session(request: Request) -> Any:
    # With the engine's pipeline in this process (despacho run, despacho api), its transaction
    # sends the steps a request queued (a dead-letter retry) right after the commit.
    pipeline = getattr(request.app.state, "pipeline", None)
    if pipeline is None:
        yield from request.app.state.ctx.session()
        return
    with pipeline.transaction() as session:
        yield session


DbSession = Annotated[Session, Depends(_session)]
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
