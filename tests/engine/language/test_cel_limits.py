from __future__ import annotations

import pytest

from engine.language.cel_limits import (
    MAX_EXPRESSION_LENGTH,
    MAX_EXPRESSION_NESTING,
    ExpressionTooLarge,
    check_expression,
    widest,
)


def test_an_expression_over_the_length_limit_is_refused_before_cel_sees_it() -> None:
    with pytest.raises(ExpressionTooLarge, match=f"at most {MAX_EXPRESSION_LENGTH} are allowed"):
        check_expression("1" + "+1" * MAX_EXPRESSION_LENGTH)


def test_brackets_nested_past_the_limit_are_refused() -> None:
    depth = MAX_EXPRESSION_NESTING + 1
    with pytest.raises(ExpressionTooLarge, match=f"nests brackets {depth} deep"):
        check_expression("(" * depth + "true" + ")" * depth)
    check_expression("(" * MAX_EXPRESSION_NESTING + "true" + ")" * MAX_EXPRESSION_NESTING)


def test_brackets_inside_string_literals_do_not_count() -> None:
    deep = "(" * 100
    shape = check_expression(f"data.note == '{deep}' && data.x == \"it's [{deep}\"")
    assert shape.powers == ()


def test_each_comprehension_adds_a_power_of_the_collection_size() -> None:
    assert check_expression("data.items.exists(i, i.qty > 5)").powers == (1,)
    assert check_expression("data.items.map(i, i.qty).size() > 0").powers == (2,)  # map is quadratic
    nested = check_expression("data.a.exists(x, data.b.exists(y, x == y)) && data.a.all(z, z > 0)")
    assert nested.powers == (1, 2, 1)
    assert nested.work(1000) == 1000 + 1000**2 + 1000


def test_macro_names_inside_strings_are_not_comprehensions() -> None:
    assert check_expression("data.note == '.exists(x, true)'").powers == ()


def test_a_literal_list_counts_as_a_collection() -> None:
    shape = check_expression("[1, 2, 3, 4].exists(x, x == data.n)")
    assert shape.work(0) >= 4  # an upper bound: every comma counts


def test_widest_finds_the_largest_list_or_map_at_any_depth() -> None:
    assert widest([{"a": {"b": [1] * 700}, "c": list(range(20))}, {"x": 1}]) == 700
    deep: dict = {}
    node = deep
    for _ in range(5000):  # deeper than Python's recursion limit
        node["n"] = {}
        node = node["n"]
    assert widest([deep]) == 1
