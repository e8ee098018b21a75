"""The CEL library loads without its interactive shell, which stays importable on demand."""

from __future__ import annotations

import subprocess
import sys


def run(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                          text=True).stdout.strip()


def test_conditions_import_cel_without_its_shell_and_its_prompt_toolkit() -> None:
    out = run("import sys\nimport engine.language.conditions\n"
              "print('cel.cli' in sys.modules, 'prompt_toolkit' in sys.modules)")
    assert out == "False False"


def test_conditions_evaluate_after_the_shell_was_left_out() -> None:
    out = run("from engine.language.cel_library import cel\n"
              "print(cel.evaluate('1 + data.n', {'data': {'n': 2}}))")
    assert out == "3"


def test_the_shell_still_imports_when_asked_for() -> None:
    out = run("import engine.language.conditions\nfrom cel import cli\nimport cel.cli\n"
              "print(cli is cel.cli, hasattr(cli, 'main') or hasattr(cli, 'app'))")
    assert out == "True True"
