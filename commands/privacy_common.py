"""What the ``despacho privacy`` commands share: the PERSON argument, the actor, and how a value
the store refused is reported (exit 2 naming the field; an unknown person or record, exit 1)."""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer

from commands.common import EXIT_PROBLEMS, EXIT_USAGE, fail
from commands.output import plain

if TYPE_CHECKING:
    from sqlmodel import Session

Person = Annotated[str, typer.Argument(help="Customer id, phone, email or CPF/CNPJ")]
ActorOption = Annotated[str | None, typer.Option(help="Who does it (default: the system user)")]


def actor_name(actor: str | None) -> str:
    return f"user:{actor or getpass.getuser()}"


@contextmanager
def usage_errors() -> Iterator[None]:
    """A value the admin typed that the store refused: exit 2 naming the field."""
    from store.errors import NotFound, ValidationFailed

    try:
        yield
    except ValidationFailed as exc:
        fail(plain(str(exc)), EXIT_USAGE)
    except NotFound as exc:
        fail(plain(f"{exc.field or 'id'}: {exc}"), EXIT_PROBLEMS)


def subject(session: Session, person: str) -> Any:
    from store.privacy.subjects import find_subject

    with usage_errors():
        return find_subject(session, person)
