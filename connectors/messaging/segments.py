"""SMS encoding and segment counting, the way Twilio counts them.

A message that fits the GSM 03.38 alphabet is sent as GSM-7 (160 septets in
one segment, 153 per segment when split); anything else is UCS-2 (70 UTF-16
code units, 67 per segment). GSM-7 carries ``Ç``, ``é`` and ``à`` but not
``ç``, ``ã``, ``õ``, ``á``, ``ê``... so most Portuguese accents force UCS-2.
"""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = frozenset("^{}\\[~]|€\f")


@dataclass(frozen=True)
class SmsEncoding:
    encoding: str  # "GSM-7" or "UCS-2"
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int
    non_gsm_characters: tuple[str, ...]


def count_segments(text: str) -> SmsEncoding:
    """Encoding, length in units and number of segments of ``text``."""
    non_gsm = tuple(sorted({c for c in text if c not in GSM7_BASIC and c not in GSM7_EXTENDED}))
    if not non_gsm:
        units = sum(2 if c in GSM7_EXTENDED else 1 for c in text)
        return SmsEncoding("GSM-7", units, _segments(units, 160, 153), ())
    units = len(text.encode("utf-16-le")) // 2
    return SmsEncoding("UCS-2", units, _segments(units, 70, 67), non_gsm)


def _segments(units: int, single: int, multi: int) -> int:
    if units == 0:
        return 0
    return 1 if units <= single else math.ceil(units / multi)


def transliterate(text: str) -> str:
    """Replace characters outside GSM-7 with their closest plain letters.

    Characters GSM-7 carries (``é``, ``à``, ``Ç``...) are kept; ``ç`` becomes
    ``c``, ``ã`` becomes ``a``; anything without a plain form becomes ``?``.
    """
    out = []
    for char in text:
        if char in GSM7_BASIC or char in GSM7_EXTENDED:
            out.append(char)
            continue
        base = unicodedata.normalize("NFKD", char).encode("ascii", "ignore").decode()
        out.append(base if base and all(c in GSM7_BASIC for c in base) else "?")
    return "".join(out)
