"""Feature flags at call time: is this rule's (or integration's, or action's) step made, shadowed or not?

Three flags may concern a step: ``rule:ID``, ``connector:NAME`` and
``action:CONNECTOR.ACTION``. Any of them off (or leaving this subject out of its
rollout) skips the step with the flag named as the reason; any of them ``shadow``
plans the call and records what it would have done without making it. No flag: on.

Flags are read from the database at most every ``ttl`` seconds per process; a read
that fails keeps the last flags read (a database outage does not switch anything on).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
import structlog
from sqlmodel import Session

from store.flags import Flag, all_flags

log = structlog.get_logger("despacho.flags")

DEFAULT_TTL = 2.0


@dataclass(frozen=True)
class Decision:
    state: str  # on, off or shadow
    reason: str | None = None


ON = Decision("on")


def flag_keys(rule_id: str, uses: str) -> tuple[str, str, str]:
    connector = uses.split(".", 1)[0]
    return f"rule:{rule_id}", f"connector:{connector}", f"action:{uses}"


def decide(flags: Mapping[str, Flag], rule_id: str, uses: str, data: Mapping[str, Any]) -> Decision:
    """What the flags say of one call of ``uses`` (``sms.send``) by ``rule_id`` for event ``data``."""
    shadowed: str | None = None
    for key in flag_keys(rule_id, uses):
        flag = flags.get(key)
        if flag is None or flag.mode == "on":
            continue
        if flag.mode == "off":
            return Decision("off", f"flag {key} is off")
        if flag.mode == "shadow":
            shadowed = shadowed or key
            continue
        subject = _subject(data, flag.subject_key)
        if subject is None:
            return Decision("off", f"flag {key}: no {flag.subject_key} in the event, so not in the rollout")
        if not _included(flag, subject):
            return Decision("off", f"flag {key}: {flag.subject_key} is not in the rollout")
    return Decision("shadow", f"shadow: flag {shadowed}") if shadowed else ON


def in_percent(key: str, subject: str, percent: int) -> bool:
    """Stable: the same subject is in or out of a flag's rollout on every call, in every process."""
    digest = hashlib.sha256(f"{key}\x00{subject}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % 100 < percent


def _included(flag: Flag, subject: str) -> bool:
    if flag.mode == "subjects":
        return subject in flag.subjects
    return in_percent(flag.key, subject, flag.percent or 0)


def _subject(data: Mapping[str, Any], path: str | None) -> str | None:
    if not path:
        return None
    value: Any = {"data": data}
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return None if value is None or isinstance(value, dict | list) else str(value)


class FlagBook:
    """This process's copy of the flags, read again when older than ``ttl`` seconds."""

    def __init__(self, db: sa.Engine, ttl: float = DEFAULT_TTL,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.db, self.ttl, self.clock = db, ttl, clock
        self._flags: dict[str, Flag] = {}
        self._read_at: float | None = None
        self._lock = threading.Lock()

    def current(self) -> Mapping[str, Flag]:
        with self._lock:
            now = self.clock()
            if self._read_at is None or now - self._read_at >= self.ttl:
                self._read_at = now
                try:
                    with Session(self.db) as session:
                        self._flags = all_flags(session)
                except sa.exc.SQLAlchemyError as exc:
                    log.warning("flags_unreadable_kept_last", error=str(exc).splitlines()[0])
            return self._flags

    def decide(self, rule_id: str, uses: str, data: Mapping[str, Any]) -> Decision:
        flags = self.current()
        if not flags:
            return ON
        return decide(flags, rule_id, uses, data)
