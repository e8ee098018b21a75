"""The trace a run keeps of its condition: per top-level condition, its text and what it gave."""

from __future__ import annotations

from engine.language.conditions import (
    RULE_VARIABLES,
    ClauseResult,
    Scope,
    compile_condition,
    describe,
    failed_trace,
    held_trace,
)
from engine.language.models import AllOf, AnyOf, NotOf


def build(condition):
    errors: list = []
    node = compile_condition(condition, ("rules", 0, "if"), RULE_VARIABLES, errors)
    assert errors == []
    return node


def scope(**data) -> Scope:
    return Scope({"data": data})


def test_a_list_is_traced_one_entry_per_item_with_its_path() -> None:
    node = build(["data.a > 1", AnyOf(any=["data.b == 'x'", "data.c == 1"]), NotOf(not_="data.off")])
    assert node.holds(scope(a=2, b="x", c=0, off=False))
    assert held_trace(node) == [
        ClauseResult("if[0]", "data.a > 1", True),
        ClauseResult("if[1]", "any: [data.b == 'x', data.c == 1]", True),
        ClauseResult("if[2]", "not: data.off", True),
    ]


def test_an_all_block_is_traced_per_item_and_a_single_expression_as_one() -> None:
    assert [r.path for r in held_trace(build(AllOf(all=["data.a", "data.b"])))] == ["if.all[0]", "if.all[1]"]
    assert held_trace(build("data.a")) == [ClauseResult("if", "data.a", True)]
    assert held_trace(build(AnyOf(any=["data.a", "data.b"]))) == [
        ClauseResult("if", "any: [data.a, data.b]", True)]


def test_a_failed_condition_keeps_each_part_result_and_the_error() -> None:
    node = build(["data.a > 1", "data.missing.x == 1", "data.a > 5"])
    assert failed_trace(node, scope(a=2)) == [
        ClauseResult("if[0]", "data.a > 1", True),
        ClauseResult("if[1]", "data.missing.x == 1", None, "no such field 'missing' in the event"),
        ClauseResult("if[2]", "data.a > 5", False),
    ]


def test_nested_blocks_are_described_on_one_line() -> None:
    node = build(NotOf(not_=AnyOf(any=["data.a", AllOf(all=["data.b", "data.c"])])))
    assert describe(node) == "not: any: [data.a, all: [data.b, data.c]]"
