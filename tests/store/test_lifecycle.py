import itertools

import pytest

from store.errors import IllegalTransition
from store.lifecycle import ORDER_STATUSES, TERMINAL_STATUSES, TRANSITIONS, check_transition
from store.query_specs import QUERY_SPECS  # noqa: F401  (the store imports cleanly)


def test_every_status_has_a_row_in_the_transition_table() -> None:
    assert set(TRANSITIONS) == set(ORDER_STATUSES)
    for targets in TRANSITIONS.values():
        assert targets <= set(ORDER_STATUSES)


def test_statuses_match_the_order_connector_action() -> None:
    from typing import get_args

    from connectors.order import OrderStatus

    assert set(get_args(OrderStatus)) == set(ORDER_STATUSES)


@pytest.mark.parametrize("final", TERMINAL_STATUSES)
def test_final_statuses_lead_nowhere(final: str) -> None:
    with pytest.raises(IllegalTransition, match="none: it is final"):
        check_transition(final, "open", has_technician=True)


def test_illegal_transition_names_from_to_and_allowed_targets() -> None:
    with pytest.raises(IllegalTransition) as caught:
        check_transition("open", "completed", has_technician=True)
    error = caught.value
    assert (error.current, error.target, error.field) == ("open", "completed", "status")
    assert error.allowed == ("assigned", "cancelled", "on_hold")
    assert "from 'open' to 'completed'" in str(error)
    assert "assigned, cancelled, on_hold" in str(error)


def test_statuses_that_need_a_technician_refuse_an_order_without_one() -> None:
    with pytest.raises(IllegalTransition, match="assign one first"):
        check_transition("on_hold", "in_progress", has_technician=False)


def test_unknown_status_is_illegal() -> None:
    with pytest.raises(IllegalTransition, match="unknown status"):
        check_transition("open", "done", has_technician=True)


def test_happy_path_is_allowed() -> None:
    path = ["open", "assigned", "scheduled", "in_progress", "completed"]
    for current, target in itertools.pairwise(path):
        check_transition(current, target, has_technician=True)
