"""store.rulesets: an accepted rule set is stored once per digest, and only the last few are kept."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import select

from store.db import session_scope
from store.models.rulesets import AcceptedRuleSet
from store.rulesets import newest_accepted, record_accepted

FILES = {"rules/r.yaml": "rules:\n  - id: a\n", "templates/sms/aviso.txt": "Olá {{ data.name }}"}


def test_the_same_digest_as_the_newest_is_not_stored_again(engine: sa.Engine) -> None:
    with session_scope(engine) as session:
        first = record_accepted(session, digest="d1", version="sha256:d1", rules=1, files=FILES)
        again = record_accepted(session, digest="d1", version="sha256:d1", rules=1, files=FILES)
    assert first is not None and again is None
    with session_scope(engine) as session:
        newest = newest_accepted(session)
        assert newest is not None
        assert (newest.digest, newest.version, newest.rules, newest.files) == ("d1", "sha256:d1", 1, FILES)


def test_going_back_to_an_older_set_stores_it_as_the_newest(engine: sa.Engine) -> None:
    for digest in ("d1", "d2", "d1"):
        with session_scope(engine) as session:
            record_accepted(session, digest=digest, version=digest, rules=1, files=FILES)
    with session_scope(engine) as session:
        newest = newest_accepted(session)
        assert newest is not None and newest.digest == "d1"
        assert len(session.exec(select(AcceptedRuleSet)).all()) == 3


def test_only_the_last_few_sets_are_kept(engine: sa.Engine) -> None:
    for index in range(14):
        with session_scope(engine) as session:
            record_accepted(session, digest=f"d{index}", version=f"v{index}", rules=index, files=FILES,
                            keep=10)
    with session_scope(engine) as session:
        kept = sorted(row.rules for row in session.exec(select(AcceptedRuleSet)))
        newest = newest_accepted(session)
    assert kept == list(range(4, 14))
    assert newest is not None and newest.version == "v13"


def test_no_stored_set_is_none(engine: sa.Engine) -> None:
    with session_scope(engine) as session:
        assert newest_accepted(session) is None
