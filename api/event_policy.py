"""Who may send which events through ``POST /v1/events``; the server, not the body, names the source.

Three checks, after the body parsed and before anything is stored:

1. Nothing only despacho produces (``store.reserved_events``): a reserved
   type, source or id shape is refused with 422 naming the field, whoever
   asks. So is an ``at`` further in the future than ``api.event_clock_skew``
   (a far-future event sorts last forever and passes for an event to come),
   and an id or source with control, bidi or zero-width characters.
2. The client's own allow-list (``api_clients.event_types``): a type no
   pattern matches is refused with 403 ``event_type_not_allowed``.
3. ``source`` becomes the client's ``event_source``; a body that names
   another one is refused (422), rather than silently rewritten, so the
   sender learns what its events will carry.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from fnmatch import fnmatchcase

from api.clients import ClientState
from api.errors import Forbidden, InvalidRequest
from api.schemas.common import forbidden_character
from engine.language.event_input import field_name
from engine.language.events import Event
from engine.language.problems import Path
from store.reserved_events import reserved_id, reserved_source, reserved_type


@dataclass(frozen=True)
class _Flaw:
    loc: Path
    message: str
    kind: str


def admit(events: Sequence[Event], root: str, client_id: str, client: ClientState, now: datetime,
          skew_seconds: int) -> list[Event]:
    """The events as they will be stored (with the client's source), or the error that refuses them.

    ``root`` is ``event`` for a single event and ``events`` for a list, as
    in the intake's own messages.
    """
    locate = (lambda index: (index,)) if root == "events" else (lambda index: ())
    latest = now + timedelta(seconds=skew_seconds)
    flaws: list[_Flaw] = []
    for index, event in enumerate(events):
        flaws += _flaws(event, locate(index), client.event_source, latest, skew_seconds)
    if flaws:
        first = flaws[0]
        raise InvalidRequest(f"{field_name(root, first.loc)}: {first.message}",
                             details=[{"loc": ["body", *f.loc], "msg": f.message, "type": f.kind}
                                      for f in flaws])
    for index, event in enumerate(events):
        if not any(fnmatchcase(event.type, pattern) for pattern in client.event_types):
            where = field_name(root, (*locate(index), "type"))
            allowed = ", ".join(client.event_types) or "none"
            raise Forbidden(f"{where}: client {client_id} may not send '{event.type}' events "
                            f"(its event types: {allowed}; 'despacho api-client update' changes them)",
                            code="event_type_not_allowed",
                            details={"field": where, "type": event.type, "allowed": list(client.event_types)})
    return [event.model_copy(update={"source": client.event_source}) for event in events]


def _flaws(event: Event, loc: Path, source: str, latest: datetime, skew_seconds: int) -> list[_Flaw]:
    flaws = []
    owner = reserved_type(event.type)
    if owner is not None:
        flaws.append(_Flaw((*loc, "type"), f"'{event.type}' events come only from {owner}; "
                                           "no API client may send them", "reserved_type"))
    shape = reserved_id(event.id)
    if shape is not None:
        flaws.append(_Flaw((*loc, "id"), f"ids shaped like {shape.shape} belong to {shape.producer}; "
                                         "choose another id", "reserved_id"))
    elif (problem := forbidden_character(event.id)) is not None:
        flaws.append(_Flaw((*loc, "id"), problem, "forbidden_character"))
    if "source" in event.model_fields_set and event.source != source:
        owner = reserved_source(event.source)
        message = (f"'{event.source}' is reserved for {owner}" if owner is not None
                   else f"this client's events carry the source '{source}'")
        flaws.append(_Flaw((*loc, "source"), f"{message}; the server sets it, leave 'source' out",
                           "reserved_source" if owner is not None else "source_mismatch"))
    if event.at > latest:
        flaws.append(_Flaw((*loc, "at"), f"{event.at.isoformat()} is in the future; at most "
                                         f"{skew_seconds} s ahead of the server's clock is accepted "
                                         "(api.event_clock_skew)", "future_time"))
    return flaws
