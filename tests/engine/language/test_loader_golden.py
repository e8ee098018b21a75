"""Every bad rule file in tests/golden/bad_rules gives exactly the problems and warnings in its .expected.

A file whose expected lines are all warnings loads: warnings never refuse a rule set.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from commands.output import problem_line
from engine.language.loader import load_rules

GOLDEN = Path(__file__).resolve().parents[2] / "golden"
CASES = sorted((GOLDEN / "bad_rules").glob("*.yaml"))


@pytest.mark.parametrize("rule_file", CASES, ids=[c.stem for c in CASES])
def test_bad_rule_file_reports_exactly_the_expected_problems(rule_file: Path, monkeypatch) -> None:
    monkeypatch.chdir(GOLDEN)
    result = load_rules([rule_file.relative_to(GOLDEN)], "templates")
    expected = rule_file.with_suffix(".expected").read_text(encoding="utf-8").splitlines()
    assert [problem_line(p) for p in result.everything] == expected
    assert result.ok == all(": warning: " in line for line in expected)


def test_golden_folder_is_not_empty() -> None:
    assert len(CASES) >= 10
