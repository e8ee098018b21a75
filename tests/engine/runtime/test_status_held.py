"""``read_status`` on both databases: steps of held runs count as held, with the earliest until."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlmodel import Session

from engine.language.events import read_events
from engine.runtime.status import read_status
from tests.cli.commands.replay import EXAMPLES, NIGHT, plan_at, repo_project
from tests.engine.runtime.pipeline_helpers import make_driver
from tests.support.postgres import throwaway_pg_database


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str | None]:
    if request.param == "sqlite":
        yield None
        return
    with throwaway_pg_database() as url:
        yield url


def test_held_runs_and_their_steps_are_held_not_queued(tmp_path: Path, database_url: str | None,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    driver = make_driver(repo_project(tmp_path, database_url))
    driver.core.accept(read_events(str(EXAMPLES)))
    plan_at(driver, NIGHT, monkeypatch)
    with Session(driver.core.db) as session:
        status = read_status(session)
    driver.core.close()
    assert status.held_runs == 7
    # records: the agenda.requested example queues the daily-agenda query (it sends nothing itself)
    assert status.held_until == datetime.fromisoformat("2026-12-01T11:00:00+00:00")
    assert {name: (c.held, c.queued) for name, c in status.connectors.items() if c.held or c.queued} == {
        "accounting": (0, 2), "calendar": (1, 2), "email": (1, 3), "http": (0, 1), "records": (0, 1),
        "sms": (1, 0), "whatsapp": (2, 0)}
