"""Feature flags: reading them, and setting them with an audit entry.

Keys name what they switch: ``rule:ID``, ``connector:NAME`` (a whole integration) or
``action:CONNECTOR.ACTION``. A key with no flag is on.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlmodel import select

from store.audit import record_action
from store.errors import NotFound, ValidationFailed
from store.models import FeatureFlag
from store.models.admin import FLAG_MODES

if TYPE_CHECKING:
    from sqlmodel import Session

_KEY = re.compile(r"^(rule:[A-Za-z0-9_.-]{1,200}|connector:[a-z_]{1,50}|action:[a-z_]{1,50}\.[a-z_]{1,50})$")
_SUBJECT_KEY = re.compile(r"^data(\.[A-Za-z_][A-Za-z0-9_]{0,63}){1,6}$")
MAX_SUBJECTS = 1000


@dataclass(frozen=True)
class Flag:
    """A flag as the engine reads it (a plain value, safe to share between threads)."""

    key: str
    mode: str
    percent: int | None = None
    subjects: frozenset[str] = frozenset()
    subject_key: str | None = None


def all_flags(session: Session) -> dict[str, Flag]:
    return {row.key: Flag(row.key, row.mode, row.percent, frozenset(row.subjects or ()), row.subject_key)
            for row in session.exec(select(FeatureFlag))}


def list_flags(session: Session) -> list[FeatureFlag]:
    return list(session.exec(select(FeatureFlag).order_by(FeatureFlag.key)))


def set_flag(session: Session, key: str, mode: str, *, actor: str, percent: int | None = None,
             subjects: Sequence[str] = (), subject_key: str | None = None,
             description: str | None = None) -> FeatureFlag:
    """Create or change a flag; every change is audited (who, before, after)."""
    _check(key, mode, percent, subjects, subject_key)
    flag = session.get(FeatureFlag, key)
    before = _state(flag) if flag is not None else None
    if flag is None:
        flag = FeatureFlag(key=key)
        session.add(flag)
    flag.mode, flag.percent = mode, percent if mode == "percent" else None
    flag.subjects = sorted(set(subjects)) if mode == "subjects" else None
    flag.subject_key = subject_key if mode in ("percent", "subjects") else None
    flag.updated_by = actor
    if description is not None:
        flag.description = description
    session.flush()
    record_action(session, actor, "flag.set", entity_type="feature_flag", entity_id=key,
                  details={"before": before, "after": _state(flag)})
    return flag


def delete_flag(session: Session, key: str, *, actor: str) -> None:
    """Remove the flag: what it switched is on again."""
    flag = session.get(FeatureFlag, key)
    if flag is None:
        raise NotFound("feature flag", key, field="key")
    record_action(session, actor, "flag.deleted", entity_type="feature_flag", entity_id=key,
                  details={"before": _state(flag)})
    session.delete(flag)
    session.flush()


def _check(key: str, mode: str, percent: int | None, subjects: Sequence[str],
           subject_key: str | None) -> None:
    if not _KEY.match(key):
        raise ValidationFailed("feature_flag.key", f"'{key[:100]}' is not rule:ID, connector:NAME or "
                                                   "action:CONNECTOR.ACTION")
    if mode not in FLAG_MODES:
        raise ValidationFailed("feature_flag.mode", f"'{mode}' is not one of: {', '.join(FLAG_MODES)}")
    if mode == "percent" and (percent is None or not 0 <= percent <= 100):
        raise ValidationFailed("feature_flag.percent", "percent mode needs a percent from 0 to 100")
    if mode == "subjects" and not subjects:
        raise ValidationFailed("feature_flag.subjects", "subjects mode needs at least one subject")
    if len(subjects) > MAX_SUBJECTS or any(len(s) > 200 for s in subjects):
        raise ValidationFailed("feature_flag.subjects", f"at most {MAX_SUBJECTS} subjects of 200 characters")
    needs_subject = mode in ("percent", "subjects")
    if needs_subject and (subject_key is None or not _SUBJECT_KEY.match(subject_key)):
        raise ValidationFailed("feature_flag.subject_key", "percent and subjects modes need the subject's "
                               "place in the event, e.g. data.customer.id")


def _state(flag: FeatureFlag) -> dict[str, object]:
    return {"mode": flag.mode, "percent": flag.percent, "subjects": flag.subjects,
            "subject_key": flag.subject_key}
