"""Which side wins a field both sides changed since they last agreed: ownership from the config.

Values are compared in their audit form (``store.accounting_sync.jsonable``: amounts as text to
the centavo, dates ISO), against ``synced_fields``, the values both sides last agreed on. A field
changed on both sides is a conflict; so is a field the system changed that despacho owns (our
push overwrites it, and nothing is overwritten silently). A field the provider owns, changed only
on its side, is simply taken.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Conflict:
    field: str
    ours: Any
    theirs: Any
    owner: str  # despacho | provider
    kept: str  # ours | theirs


@dataclass(frozen=True)
class Resolution:
    conflicts: list[Conflict]
    take: dict[str, Any]  # fields whose value on the system's side we adopt


def resolve(ours: dict[str, Any], theirs: dict[str, Any], synced: dict[str, Any] | None,
            ownership: Mapping[str, str]) -> Resolution:
    """Compare the fields present on both sides; without a previous agreement there is nothing to judge."""
    conflicts: list[Conflict] = []
    take: dict[str, Any] = {}
    if not synced:
        return Resolution(conflicts, take)
    for field in sorted(set(ours) & set(theirs) & set(synced)):
        mine, other, agreed = ours[field], theirs[field], synced[field]
        if other in (agreed, mine):
            continue  # the system did not change it, or both changed it the same way
        owner = ownership.get(field, "despacho")
        kept = "ours" if owner == "despacho" else "theirs"
        if kept == "theirs":
            take[field] = other
        if mine != agreed or kept == "ours":
            conflicts.append(Conflict(field, mine, other, owner, kept))
    return Resolution(conflicts, take)
