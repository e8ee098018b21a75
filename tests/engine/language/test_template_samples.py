"""`despacho validate` renders SMS templates with their sample data and counts segments."""

from __future__ import annotations

from pathlib import Path

from engine.language.loader import load_rules
from tests.conftest import write

RULE = """
rules:
  - id: overdue
    on: invoice.overdue
    do:
      - sms.send: {{to: "{{{{ data.phone }}}}", template: aviso{options}}}
"""
TEMPLATE = "Ola {{ data.name }}, sua fatura {{ data.number }} venceu. Regularize: {{ config.company.phone }}."


def messages(project: Path, options: str = "", sample: str | None = None) -> list[str]:
    write(project / "templates/sms/aviso.txt", TEMPLATE)
    if sample is not None:
        write(project / "templates/sms/aviso.yaml", sample)
    write(project / "rules/r.yaml", RULE.format(options=options))
    return [f"{p.file}:{p.line}: {p.message}" for p in load_rules(["rules"], "templates").problems]


SAMPLE = """
sample:
  config: {company: {phone: "+551130000000"}}
  data: {name: "Conceição Aparecida", number: NF-1}
"""


def test_without_a_sample_nothing_is_rendered(project: Path) -> None:
    assert messages(project) == []


def test_accents_that_force_ucs2_past_one_segment_are_a_problem_naming_the_rule(project: Path) -> None:
    (line,) = messages(project, sample=SAMPLE)
    assert line.startswith("rules/r.yaml:5: template 'aviso' renders to 2 SMS segments")
    assert "UCS-2" in line and "max_segments=1" in line


def test_transliteration_or_a_higher_limit_makes_it_fit(project: Path) -> None:
    assert messages(project, ", transliterate: true", SAMPLE) == []
    assert messages(project, ", max_segments: 2", SAMPLE) == []


def test_a_sample_that_does_not_render_is_a_problem_in_the_sample_file(project: Path) -> None:
    (line,) = messages(project, sample="sample:\n  data: {name: Ana}\n")
    assert line.startswith("templates/sms/aviso.yaml:2: the sample does not render")
    assert "no attribute 'number'" in line


def test_unknown_keys_in_the_sample_file_are_problems(project: Path) -> None:
    (line,) = messages(project, sample="max_segment: 1\n")
    assert line == "templates/sms/aviso.yaml:1: unknown key 'max_segment'"
