from __future__ import annotations

import pytest

from engine.language.render_limits import (
    MAX_TEXT,
    TemplateLimitError,
    budget,
    current_budget,
    percent_size,
    repeat_size,
)


def test_nested_budgets_share_the_outer_deadline_and_counters() -> None:
    assert current_budget() is None
    with budget() as outer, budget() as inner:
        assert inner is outer and current_budget() is outer
    assert current_budget() is None


def test_a_spent_budget_refuses_the_next_tick() -> None:
    with budget() as spent:
        spent.deadline = 0.0
        with pytest.raises(TemplateLimitError, match="rendering took more than"):
            spent.tick()


def test_sizes_are_checked_from_the_operands_alone() -> None:
    repeat_size("ab", MAX_TEXT // 2)  # exactly at the limit
    with pytest.raises(TemplateLimitError):
        repeat_size(MAX_TEXT // 2 + 1, "ab")
    percent_size("%5d and %-10s", None)
    with pytest.raises(TemplateLimitError):
        percent_size(f"%{MAX_TEXT + 1}d", None)
