"""Omie's faults, classified into despacho's error kinds.

Omie answers a failed call with HTTP 500 and ``{"faultstring": "ERROR: ...", "faultcode":
"SOAP-ENV:Client-NNN"}``; its rate limiter answers HTTP 429. The codes are not documented as a
table, and the same code has been seen for different causes, so the Portuguese text decides and
the code is a second signal (sources and the full mapping: docs/connectors/accounting/omie.md).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any, Literal

from errors import PermanentError, TransientError

Kind = Literal["duplicate", "not_found", "no_records", "rate_limited", "redundant", "blocked",
               "unauthorized", "validation", "server"]

MAX_MESSAGE = 300  # characters of a faultstring kept in errors and audits
DEFAULT_WAIT: dict[str, float] = {"rate_limited": 60.0, "redundant": 60.0, "blocked": 900.0, "server": 30.0}

# checked in this order: "Não existem registros" must not read as "not found"
_MARKERS: tuple[tuple[Kind, tuple[str, ...]], ...] = (
    ("blocked", ("consumo indevido", "api bloqueada", "misuse_api")),
    ("redundant", ("consumo redundante", "requisicao redundante", "ja foi realizada")),
    ("rate_limited", ("too many requests", "limite de requisi")),
    ("no_records", ("nao existem registros",)),
    ("unauthorized", ("chave de acesso", "app_key", "app_secret", "aplicativo nao", "acesso negado")),
    ("duplicate", ("ja cadastrad", "ja existe", "ja foi cadastrad", "ja cancelad", "ja faturad",
                   "ja foi baixad", "ja esta cancelad")),
    ("not_found", ("nao encontrad", "nao cadastrad", "nao localizad", "nao existe")),
)
_CODES: dict[str, Kind] = {
    "SOAP-ENV:Client-6": "redundant",  # "Consumo redundante detectado. Aguarde N segundos"
    "SOAP-ENV:Client-5113": "no_records",  # "Não existem registros para a página [N]!"
    "MISUSE_API_PROCESS": "blocked",
}
_SECONDS = re.compile(r"(\d{1,6})\s*segundo")


@dataclass(frozen=True)
class Fault:
    kind: Kind
    message: str  # the faultstring, cleaned and bounded
    code: str
    status: int
    retry_after: float | None = None

    def error(self, operation: str) -> TransientError | PermanentError:
        text = f"Omie {operation}: {self.message or f'HTTP {self.status}'}"
        if self.kind in ("rate_limited", "redundant", "blocked", "server"):
            return TransientError(text, retry_after=self.retry_after)
        code = {"validation": "rejected"}.get(self.kind, self.kind)
        return PermanentError(text, code=code)


def plain(text: str) -> str:
    """Lower case without accents: Omie writes "não", "nao" and "NÃO" for the same thing."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def clean(text: Any) -> str:
    """A vendor's text as it may go into an error or the audit: one line, bounded."""
    flat = " ".join(str(text).split())
    printable = "".join(ch for ch in flat if ch.isprintable())
    return printable[:MAX_MESSAGE] + ("…" if len(printable) > MAX_MESSAGE else "")


def classify(status: int, body: dict[str, Any] | None, retry_after_header: str | None = None) -> Fault:
    """What went wrong, from the HTTP status and the fault body (``None`` when it was not JSON)."""
    body = body or {}
    message = clean(body.get("faultstring") or body.get("message") or "")
    code = clean(body.get("faultcode") or "")
    kind = _kind(status, plain(message), code)
    return Fault(kind, message, code, status, _wait(kind, plain(message), retry_after_header))


def _kind(status: int, text: str, code: str) -> Kind:
    for kind, markers in _MARKERS:
        if any(marker in text for marker in markers):
            return kind
    if code in _CODES:
        return _CODES[code]
    if status == 429:
        return "rate_limited"
    if status in (401, 403):
        return "unauthorized"
    if code.startswith("SOAP-ENV:Client") or 400 <= status < 500:
        return "validation"
    return "server"  # 5xx without a fault of the client's making, or a SOAP-ENV:Server fault


def _wait(kind: Kind, text: str, header: str | None) -> float | None:
    if kind not in DEFAULT_WAIT:
        return None
    said = _SECONDS.search(text)
    if said:
        return float(said.group(1)) + 1  # "Aguarde 5 segundos": the sixth second is safe
    if header and header.strip().isdigit():
        return float(header.strip())
    return DEFAULT_WAIT[kind]
