from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from yaml.nodes import MappingNode, SequenceNode

from engine.language.yamlsafe import (
    MAX_FILE_BYTES,
    Document,
    YamlInputError,
    _Yaml12Loader,
    load_file,
    load_text,
)

REPO = Path(__file__).resolve().parents[3]


def problems_of(text: str) -> list[str]:
    with pytest.raises(YamlInputError) as caught:
        load_text(text, "f.yaml")
    return [f"{p.line}:{p.column}: {p.path}: {p.message}" for p in caught.value.problems]


def test_on_and_no_stay_strings_as_in_yaml_1_2() -> None:
    doc = load_text("on: x\nanswer: no\nflag: off\nreal: true\n")
    assert doc.data == {"on": "x", "answer": "no", "flag": "off", "real": True}


def test_scalars_keep_their_yaml_types() -> None:
    doc = load_text("i: 12\nf: 1.5\nn: null\nd: 2026-12-01\nh: 0x1f\n")
    assert doc.data == {"i": 12, "f": 1.5, "n": None, "d": "2026-12-01", "h": 31}


def test_positions_are_kept_in_a_side_map_not_in_the_data() -> None:
    doc = load_text("rules:\n  - id: a\n    on: x\n")
    assert doc.data == {"rules": [{"id": "a", "on": "x"}]}
    assert doc.position(("rules", 0, "on")) == (3, 9)
    assert doc.position(("rules", 0, "on"), key=True) == (3, 5)


def test_anchors_and_aliases_are_refused() -> None:
    assert problems_of("a: &x [1, 2]\nb: *x\n") == [
        "1:4: : YAML anchors and aliases are not allowed",
        "2:4: : YAML anchors and aliases are not allowed",
    ]


def test_alias_bomb_is_refused_without_expanding_it() -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
        for i in range(20)
    )
    assert problems_of(bomb)[0] == "1:4: : YAML anchors and aliases are not allowed"


def test_python_tags_are_refused() -> None:
    assert problems_of("x: !!python/object/apply:os.system ['true']\n") == [
        "1:4: x: unsupported YAML tag '!!python/object/apply:os.system'",
    ]
    assert problems_of("x: !!python/name:os.system\n") == [
        "1:4: x: unsupported YAML tag '!!python/name:os.system'"]


def test_custom_tags_are_refused() -> None:
    assert problems_of("x: !secret abc\n") == ["1:4: x: unsupported YAML tag '!secret'"]


def test_duplicate_keys_name_the_first_place() -> None:
    with pytest.raises(YamlInputError) as caught:
        load_text("a: 1\nb: 2\na: 3\n", "f.yaml")
    (problem,) = caught.value.problems
    assert (problem.line, problem.path, problem.message) == (3, "a", "duplicate key 'a'")
    assert problem.hint == "first defined at line 1"


def test_syntax_error_reports_line_and_column() -> None:
    (line,) = problems_of("a: [1, 2\nb: 3\n")
    assert line.startswith("2:2: : YAML syntax error")


def test_several_documents_in_one_file_are_refused() -> None:
    (line,) = problems_of("a: 1\n---\nb: 2\n")
    assert "one YAML document" in line


def test_files_over_one_mebibyte_are_refused_before_parsing(tmp_path) -> None:
    big = tmp_path / "big.yaml"
    big.write_text("a: " + "x" * MAX_FILE_BYTES + "\n")
    with pytest.raises(YamlInputError) as caught:
        load_file(big)
    assert "over the 1 MiB limit" in caught.value.problems[0].message


def test_unreadable_file_is_a_problem_not_a_crash(tmp_path) -> None:
    with pytest.raises(YamlInputError) as caught:
        load_file(tmp_path / "missing.yaml")
    assert "cannot read file" in caught.value.problems[0].message


def _every_position(node, path=(), values=None, keys=None):
    """The side map as it was once built eagerly: every value's and every key's position."""
    values = {} if values is None else values
    keys = {} if keys is None else keys
    values[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, MappingNode):
        for key_node, value_node in node.value:
            child = (*path, str(key_node.value))
            keys.setdefault(child, (key_node.start_mark.line + 1, key_node.start_mark.column + 1))
            _every_position(value_node, child, values, keys)
    elif isinstance(node, SequenceNode):
        for index, item in enumerate(node.value):
            _every_position(item, (*path, index), values, keys)
    return values, keys


@pytest.mark.parametrize("path", sorted([*REPO.glob("rules/*.yaml"), *REPO.glob("tests/golden/**/*.yaml"),
                                          REPO / "config.example.yaml"]), ids=lambda p: p.name)
def test_positions_looked_up_late_are_the_ones_a_full_side_map_gives(path) -> None:
    text = path.read_text(encoding="utf-8")
    try:
        doc = load_text(text, path.name)
    except YamlInputError:
        return
    values, keys = _every_position(yaml.compose(text, Loader=_Yaml12Loader))
    full = Document(path.name, doc.data, values, keys)
    probes = [p for known in values for p in (known, (*known, "missing"), (*known, 99, "x"))]
    for probe in probes:
        for key in (False, True):
            assert doc.position(probe, key=key) == full.position(probe, key=key), (probe, key)


def test_keys_must_be_plain_strings_and_anchored_keys_are_refused() -> None:
    assert problems_of("? [a]\n: 1\n!!merge <<: 2\nok: 3\n") == [
        "1:3: : keys must be plain strings (no merge keys or complex keys)",
        "3:1: : keys must be plain strings (no merge keys or complex keys)",
    ]
    assert problems_of("&k a: 1\n") == ["1:1: : YAML anchors and aliases are not allowed"]


def test_anchors_win_over_several_documents_and_those_over_other_problems() -> None:
    assert problems_of("a: !t 1\n---\nb: &x 2\n") == ["3:4: : YAML anchors and aliases are not allowed"]
    assert problems_of("a: !t 1\n---\nb: 2\n") == [
        "3:1: : a file holds one YAML document, found several"]


def test_explicit_tags_resolve_as_the_composer_resolves_them() -> None:
    assert load_text("a: !!str 1\nb: ! 2\nc: !!int '3'\nd: !!seq [x]\n").data == {
        "a": "1", "b": 2, "c": 3, "d": ["x"]}
    assert problems_of("a: !!set {x}\nb: !!omap [x]\n") == [
        "1:4: a: unsupported YAML tag '!!set'",
        "2:4: b: unsupported YAML tag '!!omap'",
    ]
    assert problems_of("!!str &x [true]\n") == ["1:1: : YAML anchors and aliases are not allowed"]


def test_a_file_nested_past_the_depth_limit_is_a_located_problem_not_a_recursion_error() -> None:
    from engine.language.yamlsafe import MAX_DEPTH

    text = "a:\n  b: " + "[" * 950 + "]" * 950 + "\n"
    assert problems_of(text) == [f"2:{6 + MAX_DEPTH - 2}: a.b{'[0]' * (MAX_DEPTH - 2)}: "
                                 f"nested deeper than {MAX_DEPTH} levels"]
    at_limit = "a:\n  b: " + "[" * (MAX_DEPTH - 2) + "]" * (MAX_DEPTH - 2) + "\n"  # two mappings above
    assert load_text(at_limit).data["a"]["b"]
