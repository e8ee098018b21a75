from __future__ import annotations

import pytest

from engine.language.conditions import (
    ACTION_VARIABLES,
    RULE_VARIABLES,
    ClauseResult,
    ConditionEvaluationError,
    ConditionSyntaxError,
    Scope,
    compile_condition,
    compile_expression,
)
from engine.language.models import AnyOf, NotOf


def context(**data) -> Scope:
    return Scope({"data": data, "event": {"type": "x.y"}})


def build(condition):
    errors: list = []
    node = compile_condition(condition, ("if",), RULE_VARIABLES, errors)
    assert errors == []
    return node


def test_syntax_error_names_the_column() -> None:
    with pytest.raises(ConditionSyntaxError) as caught:
        compile_expression("data.amount >")
    assert str(caught.value) == "CEL syntax error at column 14: mismatched input '<EOF>'"
    assert caught.value.column == 14


def test_unknown_variable_is_caught_at_compile_time() -> None:
    with pytest.raises(ConditionSyntaxError) as caught:
        compile_expression("cliente.vip")
    assert "unknown variable 'cliente'" in str(caught.value)


def test_macro_variables_are_not_unknown() -> None:
    compile_expression("data.items.all(item, item.qty > 0) && data.items.exists(i, i.qty > 5)")


def test_list_means_all_must_hold() -> None:
    node = build(["data.a > 1", "data.b == 'x'"])
    assert node.holds(context(a=2, b="x")) is True
    assert node.holds(context(a=2, b="y")) is False


def test_any_and_not_blocks() -> None:
    node = build([AnyOf(any=["data.a == 1", "data.a == 2"]), NotOf(not_="data.blocked")])
    assert node.holds(context(a=2, blocked=False)) is True
    assert node.holds(context(a=2, blocked=True)) is False
    assert node.holds(context(a=3, blocked=False)) is False


def test_explain_evaluates_every_clause_and_names_its_path() -> None:
    node = build(["data.a > 1", AnyOf(any=["data.b == 'x'", "data.c == 1"])])
    trace: list[ClauseResult] = []
    assert node.explain(context(a=0, b="x"), trace) is False
    assert [(c.path, c.value, c.error) for c in trace] == [
        ("if[0]", False, None),
        ("if[1].any[0]", True, None),
        ("if[1].any[1]", None, "no such field 'c' in the event"),
    ]


def test_missing_field_at_run_time_is_an_error_not_a_silent_false() -> None:
    node = build("data.customer.vip")
    with pytest.raises(ConditionEvaluationError) as caught:
        node.holds(context())
    assert caught.value.reason == "no such field 'customer' in the event"


def test_non_boolean_result_is_an_error() -> None:
    node = build("data.a + 1")
    with pytest.raises(ConditionEvaluationError) as caught:
        node.holds(context(a=1))
    assert "must be true or false, got 2" in caught.value.reason


def test_type_mismatch_is_an_error_with_a_short_reason() -> None:
    node = build("data.a + 1.5 > 2.0")
    with pytest.raises(ConditionEvaluationError) as caught:
        node.holds(context(a=1))
    assert caught.value.reason.startswith("No such overload")


def test_has_guards_optional_fields() -> None:
    node = build("has(data.email) && data.email != ''")
    assert node.holds(context()) is False
    assert node.holds(context(email="a@b.c")) is True


def test_an_expression_compiled_once_is_still_checked_against_each_place_s_variables() -> None:
    program = compile_expression("steps.a.ok", ACTION_VARIABLES)
    assert compile_expression("steps.a.ok", ACTION_VARIABLES) is program
    with pytest.raises(ConditionSyntaxError, match="unknown variable 'steps'"):
        compile_expression("steps.a.ok", RULE_VARIABLES)
    for _ in range(2):  # a syntax error is raised every time, never remembered as a program
        with pytest.raises(ConditionSyntaxError, match="column"):
            compile_expression("data.amount >")


def test_a_70_kb_condition_is_a_syntax_problem_not_a_crash() -> None:
    with pytest.raises(ConditionSyntaxError, match="characters long") as caught:
        compile_expression("1" + " + 1" * 17_500 + " > 0")
    assert caught.value.hint


def test_a_panic_inside_cel_compile_becomes_a_syntax_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.language import cel_limits

    # past the length limit the library panics on this one; lift the limit to reach the panic
    monkeypatch.setattr(cel_limits, "MAX_EXPRESSION_LENGTH", 10**6)
    monkeypatch.setattr(cel_limits, "MAX_EXPRESSION_NESTING", 10**6)
    with pytest.raises(ConditionSyntaxError, match="CEL could not compile this condition"):
        compile_expression("size(" * 20_000 + "'a'" + ")" * 20_000)


def test_a_panic_is_told_apart_from_other_base_exceptions() -> None:
    import cel

    from engine.errors import is_rust_panic

    try:
        cel.compile("size(" * 20_000 + "'a'" + ")" * 20_000)
    except BaseException as exc:  # the library's panic, a BaseException
        assert is_rust_panic(exc)
    else:
        pytest.fail("this CEL release no longer panics here: find another panic to test with")
    assert not is_rust_panic(KeyboardInterrupt())


def test_a_comprehension_too_costly_for_the_event_is_refused_unrun() -> None:
    from engine.language.conditions import ConditionLimitError

    node = build("data.items.exists(x, data.items.exists(y, x == y + 1))")
    assert node.holds(context(items=[1, 2, 3])) is True
    with pytest.raises(ConditionLimitError) as caught:
        node.holds(context(items=list(range(20_000))))
    assert caught.value.code == "condition_limit"
    assert "over the limit" in caught.value.reason


def test_integer_overflow_and_division_by_zero_are_evaluation_errors() -> None:
    node = build("data.a / data.b > 0")
    with pytest.raises(ConditionEvaluationError, match="division by zero"):
        node.holds(context(a=1, b=0))
    with pytest.raises(ConditionEvaluationError, match="overflow"):
        build("data.a + 1 > 0").holds(context(a=2**63 - 1))
