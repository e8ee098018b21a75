"""The limits every event from outside passes: size, depth, NaN/Infinity, NUL, lone surrogates."""

from __future__ import annotations

import json

import pytest

from engine.language.event_input import EventRefused, Limits, parse_events, parse_payload


def refusal(raw: str | bytes, limits: Limits | None = None) -> list[tuple[str, str, str]]:
    with pytest.raises(EventRefused) as caught:
        parse_events(raw, limits or Limits())
    refused = caught.value
    return [(p.path, p.message, f.kind) for p, f in zip(refused.problems, refused.flaws, strict=True)]


def test_a_valid_event_and_a_valid_list_parse() -> None:
    (one,) = parse_events('{"type": "a.b", "id": "e1", "data": {"n": 1.5}}')
    assert (one.type, one.id, one.data) == ("a.b", "e1", {"n": 1.5})
    two = parse_events(b'[{"type": "a.b", "id": "x"}, {"type": "a.c", "id": "y"}]')
    assert [e.id for e in two] == ["x", "y"]


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_refused_naming_the_field(constant: str) -> None:
    raw = f'[{{"type": "a.b"}}, {{"type": "a.b", "data": {{"amount": {constant}}}}}]'
    [(path, message, kind)] = refusal(raw)
    assert path == "events[1].data.amount"
    assert message.startswith(f"{constant} is not a JSON number") and kind == "non_finite_number"


def test_a_nul_character_is_refused_in_values_keys_and_the_event_id() -> None:
    raw = json.dumps({"type": "a.b", "id": "x\x00", "data": {"note": "a\x00b", "k\x00": 1, "ok": ["\x00"]}})
    assert {path for path, _, _ in refusal(raw)} == {
        'event.data["k\\u0000"]', "event.data.note", "event.data.ok[0]", "event.id"}
    assert all(kind == "nul_character" for _, _, kind in refusal(raw))


def test_an_unpaired_surrogate_is_refused() -> None:
    [(path, message, _)] = refusal('{"type": "a.b", "data": {"name": "\\ud800x"}}')
    assert path == "event.data.name" and "surrogate" in message


def test_nesting_past_the_limit_is_refused_at_any_depth_without_recursion_error() -> None:
    shallow_enough = '{"type": "a.b", "data": {"x": ' + "[" * 62 + "]" * 62 + "}}"
    assert parse_events(shallow_enough)
    [(path, message, kind)] = refusal('{"type": "a.b", "data": {"x": ' + "[" * 63 + "]" * 63 + "}}")
    assert path.startswith("event.data.x[0]") and message == "nested deeper than 64 levels"
    [(path, message, kind)] = refusal('{"type": "a.b", "data": ' + "[" * 100_000 + "]" * 100_000 + "}")
    assert kind == "too_deep" and message == "nested deeper than 64 levels"


def test_a_body_over_the_size_limit_is_refused_before_parsing() -> None:
    big = '{"type": "a.b", "data": {"x": "' + "y" * 2000 + '"}}'
    [(_, message, kind)] = refusal(big, Limits(max_bytes=1024))
    assert kind == "too_large" and message.endswith("at most 1024 are accepted")


def test_schema_errors_name_the_event_in_the_list() -> None:
    [(path, _, kind)] = refusal('[{"type": "a.b"}, {"type": "Not A Type"}]')
    assert (path, kind) == ("events[1].type", "string_pattern_mismatch")
    assert refusal('{"type": "a.b"') == [("body", "not JSON: Expecting ',' delimiter at line 1 column 15",
                                          "json_invalid")]


def test_a_payload_has_the_same_limits_one_level_down() -> None:
    assert parse_payload('{"x": [[1]]}') == {"x": [[1]]}
    with pytest.raises(EventRefused) as caught:
        parse_payload('{"x": ' + "[" * 63 + "]" * 63 + "}")
    assert caught.value.problems[0].message == "nested deeper than 64 levels"
    with pytest.raises(EventRefused) as caught:
        parse_payload('{"x": NaN}', source="--data")
    assert (caught.value.problems[0].file, caught.value.problems[0].path) == ("--data", "data.x")
    with pytest.raises(EventRefused, match="1 problem"):
        parse_payload("[1]")


@pytest.mark.parametrize("raw", [b'{"type": "a.b", "data": {"x": 1e999}}',
                                 b'{"type": "a.b", "data": {"x": -' + b"9" * 400 + b'.0}}',
                                 b'{"type": "a.b", "data": {"x": "\\u0000"}}',
                                 b'{"type": "a.b", "data": {"x": "\\uDC00"}}',
                                 b'{"type": "a.b", "data": {"x": NaN}}'])
def test_bytes_that_look_plain_still_have_every_refused_value_found(raw: bytes) -> None:
    assert len(refusal(raw)) == 1


def test_text_that_only_looks_suspect_is_accepted() -> None:
    raw = b'{"type": "a.b", "data": {"note": "NaN and Infinity", "e": "\\\\u0000", "n": 1e300}}'
    (event,) = parse_events(raw)
    assert event.data == {"note": "NaN and Infinity", "e": "\\u0000", "n": 1e300}
