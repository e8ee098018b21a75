"""prepare_call: the files earlier steps produced travel with the call, nothing the event names."""

from __future__ import annotations

from engine.language.calls import produced_files


def test_path_outputs_of_earlier_steps_are_the_produced_files() -> None:
    steps = {"backup": {"backup_id": "b1", "path": "var/outbox/backup/x.json", "size_bytes": 10},
             "notify": {"message_id": "<m@x>"}, "odd": {"path": 3}, "skipped": None}
    assert produced_files(steps) == frozenset({"var/outbox/backup/x.json"})


def test_no_steps_means_no_produced_files() -> None:
    assert produced_files({}) == frozenset()
    assert produced_files(None) == frozenset()
