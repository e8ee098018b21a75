from __future__ import annotations

import pytest

from connectors.messaging.segments import count_segments, transliterate


@pytest.mark.parametrize(("text", "encoding", "segments"), [
    ("a" * 160, "GSM-7", 1),
    ("a" * 161, "GSM-7", 2),
    ("a" * 306, "GSM-7", 2),
    ("a" * 307, "GSM-7", 3),
    ("é à Ç ü ñ", "GSM-7", 1),
    ("ç", "UCS-2", 1),
    ("á" * 70, "UCS-2", 1),
    ("á" * 71, "UCS-2", 2),
    ("á" * 134, "UCS-2", 2),
    ("á" * 135, "UCS-2", 3),
    ("", "GSM-7", 0),
])
def test_encoding_and_segments_as_twilio_counts(text: str, encoding: str, segments: int) -> None:
    counted = count_segments(text)
    assert (counted.encoding, counted.segments) == (encoding, segments)


@pytest.mark.parametrize("accent", list("çãõáêíóúâôÁÍÓÚÃÕ"))
def test_portuguese_accents_other_than_c_cedilla_e_acute_a_grave_force_ucs2(accent: str) -> None:
    assert count_segments(f"Ola {accent}").encoding == "UCS-2"


def test_extended_characters_count_twice() -> None:
    assert count_segments("€" * 80).units == 160
    assert count_segments("€" * 81).segments == 2


def test_emoji_counts_two_utf16_units() -> None:
    assert count_segments("👍" * 35).units == 70
    assert count_segments("👍" * 36).segments == 2


def test_non_gsm_characters_are_named() -> None:
    assert count_segments("Você não").non_gsm_characters == ("ã", "ê")


def test_transliteration_keeps_gsm_letters_and_replaces_the_rest() -> None:
    assert transliterate("Atenção, você é o técnico à tarde") == "Atencao, voce é o técnico à tarde"
    assert count_segments(transliterate("Olá, João! Sua fatura está vencida")).encoding == "GSM-7"
