from __future__ import annotations

from pathlib import Path

from sqlmodel import Session, select

from engine.language.events import Event
from engine.runtime.intake import accept_events
from store.db import make_engine, session_scope
from store.models.events import Event as EventRow


def test_a_batch_is_stored_once_per_id_even_with_repeats_and_redeliveries(migrated_template: Path,
                                                                          tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    path.write_bytes(migrated_template.read_bytes())
    engine = make_engine(f"sqlite:///{path}")
    with session_scope(engine) as session:
        first = accept_events(session, [Event(type="a.b", id="e1"), Event(type="a.b", id="e1"),
                                        Event(type="a.b", id="e2", data={"x": 1})])
    with session_scope(engine) as session:
        again = accept_events(session, [Event(type="a.b", id="e2"), Event(type="a.b", id="e3")])
    assert [(a.id, a.stored) for a in first] == [("e1", True), ("e1", False), ("e2", True)]
    assert [(a.id, a.stored) for a in again] == [("e2", False), ("e3", True)]
    with Session(engine) as session:
        rows = {row.id: row.payload for row in session.exec(select(EventRow))}
    assert rows == {"e1": {}, "e2": {"x": 1}, "e3": {}}
    engine.dispose()
