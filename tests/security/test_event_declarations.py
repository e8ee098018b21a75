"""Event schemas declared in rule files are hostile input: walking them is bounded, never fetched."""

from __future__ import annotations

import time
from pathlib import Path

from engine.language.loader import load_rules
from tests.conftest import write

LISTENER = """
  - id: r{i}
    on: erp.loop
    do:
      - log.write: {{message: "{{{{ data.a.b.c.d.e.f.g.h.i.j.k }}}} {{{{ data.x.y }}}}"}}
"""


def test_ref_cycles_that_fan_out_end_quickly_and_read_as_open(tmp_path: Path) -> None:
    write(tmp_path / "rules/r.yaml", """
events:
  erp.loop:
    data:
      $defs:
        A: {anyOf: [{$ref: "#/$defs/A"}, {$ref: "#/$defs/B"}, {properties: {a: {$ref: "#/$defs/A"}}}]}
        B: {anyOf: [{$ref: "#/$defs/A"}, {$ref: "#/$defs/B"}]}
      $ref: "#/$defs/A"
rules:
""" + "".join(LISTENER.format(i=i) for i in range(300)))
    started = time.process_time()
    result = load_rules([tmp_path / "rules"], tmp_path / "templates")
    assert time.process_time() - started < 5
    assert result.problems == [] and result.warnings == []
    assert len(result.ruleset) == 300


def test_a_remote_ref_is_neither_fetched_nor_trusted(tmp_path: Path) -> None:
    write(tmp_path / "rules/r.yaml", """
events:
  erp.remote:
    data: {type: object, properties: {x: {$ref: "http://127.0.0.1:9/schema.json"}}}
rules:
  - id: r
    on: erp.remote
    do:
      - log.write: {message: "{{ data.x.anything }} {{ data.y }}"}
""")
    result = load_rules([tmp_path / "rules"], tmp_path / "templates")
    assert [p.message for p in result.warnings] == [
        "'data.y' is not in the data of the events this rule listens to"]


def test_a_declaration_that_is_not_a_schema_is_refused_at_its_line(tmp_path: Path) -> None:
    write(tmp_path / "rules/r.yaml", """
events:
  erp.bad:
    data: {type: object, properties: {x: {minLength: -1}}, required: "x"}
rules: []
""")
    result = load_rules([tmp_path / "rules"], tmp_path / "templates")
    (problem,) = result.problems
    assert problem.path.startswith("events.erp.bad.data") and problem.line == 3
    assert problem.message.startswith("not a JSON Schema:")
