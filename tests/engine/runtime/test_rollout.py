"""Rule sets across several daemons: a new set goes into force only when every live daemon can load it.

Two daemons ("machine A" and "machine B") with their own checkouts of the rules
share one database, as workers and schedulers on two machines do. Each side is a
``RuleSetHolder`` with a ``RuleRollout``, driven tick by tick as the daemon's
rule watcher drives them.
"""

from __future__ import annotations

import json
import textwrap
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import Session

from connectors.http import HttpSettings
from engine.runtime.rollout import RuleRollout, daemon_views, verdict
from engine.runtime.rulestate import RuleSetHolder
from store.daemon_rules import everyone
from store.db import make_engine
from store.migrate import upgrade
from store.models import DaemonRules

V1 = """
rules:
  - id: first
    on: order.created
    do:
      - log.write: {message: "v1"}
"""
V2 = V1.replace("v1", "v2")
# loads only where connectors.http allows the host: one machine's config can lag behind the commit
V3_ERP = """
rules:
  - id: first
    on: order.created
    do:
      - http.request: {url: "https://erp.refrigeracaopaulista.com.br/pedidos", json: {}}
"""


class Machine:
    def __init__(self, root: Path, db: sa.Engine, rules: str, ttl: timedelta = timedelta(seconds=30),
                 allow_hosts: tuple[str, ...] = ("erp.refrigeracaopaulista.com.br",)) -> None:
        self.root = root
        (root / "rules").mkdir(parents=True)
        (root / "templates").mkdir(parents=True)
        self.write(rules)
        self.holder = RuleSetHolder(root / "rules", root / "templates", db=db,
                                    http_settings=HttpSettings(allow_hosts=list(allow_hosts)))
        self.rollout = RuleRollout(db, self.holder, "relay,workers", ttl=ttl)

    def write(self, rules: str) -> None:
        (self.root / "rules" / "r.yaml").write_text(textwrap.dedent(rules).lstrip(), encoding="utf-8")

    def message(self) -> str:
        """Which set is in force: v1, v2, or the one sending the new template."""
        (rule,) = self.holder().rules
        text = json.dumps(rule.rule.model_dump(mode="json"))
        return next(v for v in ("v1", "v2", "erp") if v in text)

    def digest(self) -> str:
        return self.holder.state().digest


def shared_db(tmp_path: Path) -> sa.Engine:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    upgrade(url)
    return make_engine(url)


def test_a_new_set_waits_for_the_other_daemon_then_both_put_it_in_force(tmp_path: Path) -> None:
    db = shared_db(tmp_path)
    a, b = Machine(tmp_path / "a", db, V1), Machine(tmp_path / "b", db, V1)
    a.rollout.tick(), b.rollout.tick()
    a.write(V2)
    assert a.rollout.offer().ok
    assert a.rollout.tick() is None  # B's files are still v1: A waits
    assert a.message() == "v1"
    views = {v.id: v for v in daemon_views(Session(db))}
    assert views[a.rollout.id].offered_state == "waiting" and views[b.rollout.id].offered is None
    b.write(V2)
    b.rollout.offer()
    done_b = b.rollout.tick()  # A has loaded it already: B puts it in force
    assert done_b is not None and done_b.ok and b.message() == "v2"
    done_a = a.rollout.tick()
    assert done_a is not None and done_a.ok and a.message() == "v2"
    with Session(db) as session:
        rows = everyone(session)
    assert {r.active_digest for r in rows} == {a.digest()} and {r.candidate_digest for r in rows} == {None}


def test_a_set_one_daemon_cannot_load_goes_into_force_nowhere(tmp_path: Path) -> None:
    db = shared_db(tmp_path)
    a = Machine(tmp_path / "a", db, V1)
    b = Machine(tmp_path / "b", db, V1, allow_hosts=("api.asaas.com",))  # B's config: not the ERP yet
    a.rollout.tick(), b.rollout.tick()
    a.write(V3_ERP)
    b.write(V3_ERP)
    assert a.rollout.offer().ok
    offered_b = b.rollout.offer()
    assert not offered_b.ok and any("erp.refrigeracaopaulista.com.br" in p for p in offered_b.problems)
    b.rollout.tick()
    refused = a.rollout.tick()
    assert refused is not None and not refused.ok
    assert any(b.rollout.id in line for line in refused.problems), refused.problems
    assert a.message() == "v1" and b.message() == "v1"
    assert a.holder.state().degraded and b.holder.state().degraded
    assert a.holder.pending_digest is None and a.rollout.tick() is None  # refused stays refused
    views = {v.id: v for v in daemon_views(Session(db))}
    assert views[a.rollout.id].offered_state == "refused" and views[b.rollout.id].offered_state == "refused"


def test_a_daemon_that_is_gone_does_not_hold_up_a_new_set(tmp_path: Path) -> None:
    db = shared_db(tmp_path)
    a = Machine(tmp_path / "a", db, V1, ttl=timedelta(seconds=5))
    b = Machine(tmp_path / "b", db, V1)
    a.rollout.tick(), b.rollout.tick()
    with db.begin() as conn:  # B was killed a minute ago: its row stopped being refreshed
        conn.execute(sa.update(DaemonRules.__table__).where(DaemonRules.__table__.c.id == b.rollout.id)
                     .values(seen_at=sa.func.datetime("now", "-60 seconds")))
    a.write(V2)
    a.rollout.offer()
    done = a.rollout.tick()
    assert done is not None and done.ok and a.message() == "v2"


def test_a_daemon_stopping_cleanly_leaves_the_roll_out(tmp_path: Path) -> None:
    db = shared_db(tmp_path)
    a, b = Machine(tmp_path / "a", db, V1), Machine(tmp_path / "b", db, V1)
    a.rollout.tick(), b.rollout.tick()
    b.rollout.leave()
    with Session(db) as session:
        assert [r.id for r in everyone(session)] == [a.rollout.id]


def test_a_daemon_alone_puts_a_new_set_in_force_on_its_first_tick(tmp_path: Path) -> None:
    a = Machine(tmp_path / "a", shared_db(tmp_path), V1)
    a.write(V2)
    a.rollout.offer()
    done = a.rollout.tick()
    assert done is not None and done.ok and a.message() == "v2"


def test_the_verdict_counts_a_peer_running_the_set_as_able_to_load_it() -> None:
    peer = DaemonRules(id="b", host="b", pid=1, active_digest="d2", active_version="v2")
    assert verdict("d2", "a", [peer]).decision == "accept"
    waiting = DaemonRules(id="c", host="c", pid=2, active_digest="d1", active_version="v1")
    assert verdict("d2", "a", [peer, waiting]).daemons == ("c",)
    refusing = DaemonRules(id="d", host="d", pid=3, active_digest="d1", active_version="v1",
                           candidate_digest="d2", candidate_ok=False, candidate_problems=["r.yaml:3: bad"])
    decided = verdict("d2", "a", [peer, waiting, refusing])
    assert decided.decision == "reject" and decided.problems == ("d: r.yaml:3: bad",)


def test_a_starting_daemon_removes_the_rows_of_daemons_killed_a_day_ago(tmp_path: Path) -> None:
    db = shared_db(tmp_path)
    a, b = Machine(tmp_path / "a", db, V1), Machine(tmp_path / "b", db, V1)
    a.rollout.tick()
    with db.begin() as conn:  # A was SIGKILLed two days ago: it never left
        conn.execute(sa.update(DaemonRules.__table__).where(DaemonRules.__table__.c.id == a.rollout.id)
                     .values(seen_at=sa.func.datetime("now", "-2 days")))
    b.rollout.tick()
    with Session(db) as session:
        assert [r.id for r in everyone(session)] == [b.rollout.id]
