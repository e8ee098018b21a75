"""Text fields: one-line fields refuse breaks and joiners; all refuse controls, bidi overrides, invisibles."""

from __future__ import annotations

import pytest

from api.schemas.common import forbidden_character


@pytest.mark.parametrize(("value", "kind"), [
    ("Ana\u202eazuoS", "a bidirectional override (U+202E)"),
    ("Ana\u2066Souza\u2069", "a bidirectional override (U+2066)"),
    ("Ana\u200bSouza", "a zero-width character (U+200B)"),
    ("\ufeffAna", "a zero-width character (U+FEFF)"),
    ("Ana\u2060Souza", "a zero-width character (U+2060)"),
    ("Ana\u200dSouza", "a zero-width character (U+200D)"),
    ("Ana\x1b[31mSouza", "a control character (U+001B)"),
    ("Ana\x85Souza", "a control character (U+0085)"),
    ("Ana\nSouza", "a line break (U+000A)"),
])
def test_a_one_line_field_refuses_the_character_and_names_it(value: str, kind: str) -> None:
    assert forbidden_character(value) == f"{kind} is not allowed here"


@pytest.mark.parametrize("value", ["Linha 1\nLinha 2\ttab", "Técnica 👩\u200d🔧 chegou", "نامه\u200cها"])
def test_free_text_keeps_line_breaks_and_the_joiners_of_emoji_and_scripts(value: str) -> None:
    assert forbidden_character(value, multiline=True) is None


@pytest.mark.parametrize("value", ["texto\u202e", "texto\u200b", "texto\x00"])
def test_free_text_still_refuses_overrides_invisibles_and_controls(value: str) -> None:
    assert forbidden_character(value, multiline=True) is not None


def test_ordinary_accented_names_pass() -> None:
    assert forbidden_character("Conceição Araújo — São Paulo") is None
