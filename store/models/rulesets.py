"""Accepted rule sets: the last good one is what a daemon starts with when the files on disk are broken."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlmodel import Field

from store.models.base import Normalizer, Record, timestamp
from store.types import new_id
from store.validation import check_required


class AcceptedRuleSet(Record, table=True):
    """A rule set that loaded with no problems, with the files it was loaded from.

    ``version`` is the git commit of the rules folder when it is clean in git,
    else ``sha256:<digest>`` of the files. ``files`` maps each rule and
    template file (relative to its root, ``rules/...`` or ``templates/...``)
    to its text. Index: ``accepted_at`` (the newest is the one to start with).
    """

    __tablename__ = "accepted_rule_sets"
    entity: ClassVar[str] = "accepted_rule_set"
    normalizers: ClassVar[dict[str, Normalizer]] = {"digest": check_required}

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    digest: str = Field(max_length=64, description="sha256 over the names and contents of the files")
    version: str = Field(max_length=80, description="git commit, or sha256:<digest> outside git")
    rules: int = 0
    files: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON, nullable=False)
    accepted_at: datetime = timestamp(default_now=True, index=True)


class DaemonRules(Record, table=True):
    """One running daemon and its rules: the set in force and the one it was offered last.

    A daemon writes its row on every tick of its rule watcher (``seen_at``); a row not seen for
    a while is a daemon that is gone. ``candidate_*`` is the newest rule set its files offered:
    whether it loaded there, and the problems when not. A new set is put in force only when every
    live daemon either runs it or has loaded it (``engine.runtime.rollout``).
    """

    __tablename__ = "daemon_rules"
    entity: ClassVar[str] = "daemon_rules"

    id: str = Field(primary_key=True, max_length=120, description="host:pid:random, one per process")
    host: str = Field(max_length=200)
    pid: int = 0
    parts: str = Field(default="", max_length=100, description="relay, workers, scheduler: what it runs")
    started_at: datetime = timestamp(default_now=True)
    seen_at: datetime = timestamp(default_now=True, index=True)
    active_digest: str = Field(max_length=64)
    active_version: str = Field(max_length=80)
    active_since: datetime = timestamp(default_now=True)
    candidate_digest: str | None = Field(default=None, max_length=64)
    candidate_version: str | None = Field(default=None, max_length=80)
    candidate_ok: bool | None = None
    candidate_problems: list[str] | None = Field(default=None, sa_type=sa.JSON)
    candidate_at: datetime | None = timestamp()
