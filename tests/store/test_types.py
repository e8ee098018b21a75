from __future__ import annotations

import os
import threading
import uuid

from store.types import _RandomIds, new_id, random_uuid

_IDS_PER_REFILL = _RandomIds._BATCH // 16


def test_ids_are_version_4_uuids_of_the_rfc_4122_variant() -> None:
    for _ in range(2 * _IDS_PER_REFILL + 1):
        text = new_id()
        parsed = uuid.UUID(text)
        assert str(parsed) == text
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122
    made = random_uuid()
    assert isinstance(made, uuid.UUID)
    assert (made.version, made.variant) == (4, uuid.RFC_4122)


def test_ten_thousand_ids_across_many_refills_are_all_distinct() -> None:
    count = 10_000
    assert count > 2 * _IDS_PER_REFILL  # the pool is refilled many times over
    ids = [new_id() for _ in range(count)]
    assert len(set(ids)) == count


def test_a_forked_child_does_not_hand_out_the_id_its_parent_hands_out_next() -> None:
    new_id()  # the pool is filled and partly used when the process forks
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next ids to the pipe, and out without running anything else
        try:
            os.close(read_end)
            os.write(write_end, " ".join(new_id() for _ in range(4)).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        child_ids = pipe.read().decode().split()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    parent_ids = [new_id() for _ in range(4)]
    assert len(child_ids) == 4
    assert all(uuid.UUID(child_id).version == 4 for child_id in child_ids)
    assert child_ids[0] != parent_ids[0]
    assert not set(child_ids) & set(parent_ids)


def test_ids_made_by_several_threads_at_once_are_all_distinct() -> None:
    threads, per_thread = 8, 3 * _IDS_PER_REFILL
    start = threading.Barrier(threads)
    made: list[list[str]] = [[] for _ in range(threads)]

    def make(out: list[str]) -> None:
        start.wait()
        out.extend(new_id() for _ in range(per_thread))

    workers = [threading.Thread(target=make, args=(out,)) for out in made]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    ids = [one for out in made for one in out]
    assert len(ids) == threads * per_thread
    assert len(set(ids)) == len(ids)
