"""Opt-out keywords: a customer who answers SAIR, PARAR, STOP, CANCELAR or DESCADASTRAR leaves.

The whole message must be the keyword (case, accents, surrounding spaces and
punctuation aside): "Sair." and "parar!" opt out, "não vou parar de usar" or
"stop sending me the invoice twice" do not — a word inside a sentence is a
conversation, not a request, and must not suppress anyone.
"""

from __future__ import annotations

import unicodedata

KEYWORDS = frozenset({"SAIR", "PARAR", "STOP", "CANCELAR", "DESCADASTRAR"})
_EDGES = " \t\r\n.,;:!?¡¿'\"()[]-_*~"


def opt_out_keyword(body: str) -> str | None:
    """The keyword the whole message is, normalised (``"Sair."`` -> ``"SAIR"``), or None."""
    if len(body) > 40:  # a keyword with some punctuation around it is never longer
        return None
    decomposed = unicodedata.normalize("NFKD", body)
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    word = plain.strip(_EDGES).upper()
    return word if word in KEYWORDS else None
