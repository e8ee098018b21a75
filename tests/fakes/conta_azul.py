"""A local server that speaks Conta Azul's API v2 and its OAuth2 authorisation server.

OAuth (``/oauth2/authorize``, ``/oauth2/token``): the consent page answers at once with a redirect
to ``redirect_uri?code=&state=`` (the user said yes); the token endpoint takes HTTP Basic
``client_id:client_secret`` and form bodies, and rotates the refresh token on every refresh. Like
Cognito, the previous refresh token is accepted again within ``grace`` seconds, answering the
current refresh token and a new access token; after that, or once ``revoke()``d, it answers
``400 {"error": "invalid_grant"}``. ``lose_next_token_answer()`` processes the next token request
and drops the connection before answering (the answer lost on the wire).

API (bearer tokens from the endpoint above): ``/v1/pessoas``, ``/v1/financeiro/eventos-
financeiros/contas-a-receber`` (create, ``/buscar`` with ``pagina``/``tamanho_pagina`` and date
filters), ``/parcelas/{id}`` (read, delete) and ``/parcelas/{id}/baixa``. ``fail_next(...)``
scripts a failure (429 with ``Retry-After``, 500...); ``settle_in_erp(...)`` is a payment the
company registers in Conta Azul itself.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from tests.fakes.serving import serving

CLIENT_ID = "ca-client-id"
CLIENT_SECRET = "ca-client-secret"
RECEIVABLES = "/v1/financeiro/eventos-financeiros/contas-a-receber"
_PARCEL = re.compile(r"^/v1/financeiro/eventos-financeiros/parcelas/(?P<id>[\w-]+)(?P<baixa>/baixa)?$")


@dataclass
class Failure:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class FakeContaAzul:
    url: str = ""
    grace: float = 60.0
    access_lifetime: int = 3600
    codes: dict[str, str] = field(default_factory=dict)  # code -> redirect_uri
    refresh_current: str | None = None
    refresh_previous: tuple[str, float] | None = None  # token, accepted until (monotonic)
    access_tokens: set[str] = field(default_factory=set)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)  # API calls: method, path, query, body
    people: dict[str, dict[str, Any]] = field(default_factory=dict)
    parcels: dict[str, dict[str, Any]] = field(default_factory=dict)
    scripted: deque[Failure] = field(default_factory=deque)
    lose_token_answers: int = 0
    _lock: threading.RLock = field(default_factory=threading.RLock)

    # --- scripting ---------------------------------------------------------------------------

    def fail_next(self, status: int, message: str = "", retry_after: int | None = None) -> None:
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        body = {"error": "scripted", "message": message or f"scripted {status}"}
        self.scripted.append(Failure(status, body, headers))

    def lose_next_token_answer(self) -> None:
        self.lose_token_answers += 1

    def revoke(self) -> None:
        with self._lock:
            self.refresh_current, self.refresh_previous = None, None
            self.access_tokens.clear()

    def expire_access_tokens(self) -> None:
        with self._lock:
            self.access_tokens.clear()

    def settle_in_erp(self, parcel_id: str, amount: str, method: str = "PIX_PAGAMENTO_INSTANTANEO",
                      paid_on: date | None = None) -> str:
        """A payment registered by someone in Conta Azul (not through despacho): the baixa's id."""
        with self._lock:
            return self._settle(self.parcels[parcel_id], {
                "data_pagamento": (paid_on or date.today()).isoformat(), "metodo_pagamento": method,
                "composicao_valor": {"valor_bruto": float(amount)}, "observacao": "recebido no caixa"})

    def _settle(self, parcel: dict[str, Any], body: dict[str, Any]) -> str:
        amount = Decimal(str(body["composicao_valor"]["valor_bruto"])).quantize(Decimal("0.01"))
        settlement = {"id": str(uuid.uuid4()), "data_pagamento": body["data_pagamento"],
                      "metodo_pagamento": body.get("metodo_pagamento"), "observacao": body.get("observacao"),
                      "composicao_valor": {"valor_bruto": float(amount)}}
        parcel["baixas"].append(settlement)
        paid = Decimal(str(parcel["pago"])) + amount
        parcel["pago"], parcel["nao_pago"] = float(paid), float(Decimal(str(parcel["total"])) - paid)
        parcel["status"] = "RECEBIDO" if paid >= Decimal(str(parcel["total"])) else "RECEBIDO_PARCIAL"
        parcel["data_alteracao"] = _now()
        return str(settlement["id"])

    # --- OAuth ---------------------------------------------------------------------------------

    def issue(self) -> dict[str, Any]:
        access = "at-" + secrets.token_hex(8)
        self.access_tokens.add(access)
        return {"access_token": access, "refresh_token": self.refresh_current, "id_token": "idt",
                "token_type": "Bearer", "expires_in": self.access_lifetime}

    def token(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.token_requests.append({"grant_type": form.get("grant_type", "")})
            if form.get("grant_type") == "authorization_code":
                if self.codes.pop(form.get("code", ""), None) != form.get("redirect_uri"):
                    return 400, {"error": "invalid_grant", "error_description": "bad code or redirect_uri"}
                self.refresh_current, self.refresh_previous = "rt-" + secrets.token_hex(8), None
                return 200, self.issue()
            if form.get("grant_type") != "refresh_token":
                return 400, {"error": "unsupported_grant_type"}
            presented = form.get("refresh_token")
            if presented and presented == self.refresh_current:
                self.refresh_previous = (presented, time.monotonic() + self.grace)
                self.refresh_current = "rt-" + secrets.token_hex(8)
                return 200, self.issue()
            previous = self.refresh_previous
            if presented and previous and presented == previous[0] and time.monotonic() < previous[1]:
                return 200, self.issue()  # within the grace window: the current pair again
            return 400, {"error": "invalid_grant", "error_description": "Invalid Refresh Token"}

    # --- API -----------------------------------------------------------------------------------

    def create_person(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if not body.get("nome"):
            return 400, {"message": "O campo nome é obrigatório"}
        document = body.get("cpf") or body.get("cnpj")
        if document and any(p.get("documento") == document for p in self.people.values()):
            return 400, {"message": "Já existe uma pessoa cadastrada com este documento"}
        person = {"id": str(uuid.uuid4()), "nome": body["nome"], "documento": document,
                  "email": body.get("email"), "observacao": body.get("observacao")}
        self.people[person["id"]] = person
        return 200, person

    def find_people(self, query: dict[str, str]) -> dict[str, Any]:
        term = query.get("busca_textual", "").lower()
        def text(person: dict[str, Any]) -> str:
            return " ".join(str(person.get(k) or "") for k in ("nome", "documento", "email")).lower()

        found = [p for p in self.people.values() if not term or term in text(p)]
        return {"totalItems": len(found), "items": found[:int(query.get("tamanho_pagina", 10))]}

    def create_receivable(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        problem = _receivable_problem(body, self.people)
        if problem:
            return 400, {"message": problem}
        event_id, installment = str(uuid.uuid4()), body["condicao_pagamento"]["parcelas"][0]
        parcel = {"id": str(uuid.uuid4()), "id_evento": event_id, "status": "EM_ABERTO",
                  "total": body["valor"], "pago": 0.0, "nao_pago": body["valor"],
                  "descricao": body["descricao"], "data_vencimento": installment["data_vencimento"],
                  "referencia_externa": body.get("referencia_externa"), "observacao": body.get("observacao"),
                  "cliente": {"id": body["id_cliente"], "nome": self.people[body["id_cliente"]]["nome"]},
                  "data_alteracao": _now(), "baixas": []}
        self.parcels[parcel["id"]] = parcel
        return 201, {"id": event_id, "valor": body["valor"], "descricao": body["descricao"],
                     "parcelas": [{"id": parcel["id"], "data_vencimento": parcel["data_vencimento"],
                                   "valor": body["valor"]}]}

    def search(self, query: dict[str, str]) -> tuple[int, dict[str, Any]]:
        try:
            page, size = int(query["pagina"]), int(query["tamanho_pagina"])
            due_from, due_to = query["data_vencimento_de"], query["data_vencimento_ate"]
        except (KeyError, ValueError):
            return 400, {"message": "pagina, tamanho_pagina, data_vencimento_de e data_vencimento_ate "
                                    "são obrigatórios"}
        since = datetime.fromisoformat(query["data_alteracao_de"]) if query.get("data_alteracao_de") else None
        rows = [{k: v for k, v in p.items() if k != "baixas"} for p in self.parcels.values()
                if due_from <= p["data_vencimento"] <= due_to
                and (not query.get("ids_clientes") or p["cliente"]["id"] == query["ids_clientes"])
                and (since is None or datetime.fromisoformat(p["data_alteracao"]) >= since)]
        return 200, {"itens_totais": len(rows), "itens": rows[(page - 1) * size: page * size]}


def _receivable_problem(body: dict[str, Any], people: dict[str, Any]) -> str | None:
    required = ("data_competencia", "valor", "descricao", "id_cliente", "conta_financeira", "rateio",
                "condicao_pagamento")
    missing = [name for name in required if body.get(name) in (None, "", [])]
    if missing:
        return f"Campos obrigatórios: {', '.join(missing)}"
    if body["id_cliente"] not in people:
        return "Cliente não encontrado"
    value = Decimal(str(body["valor"]))
    if value <= 0:
        return "O valor deve ser maior que zero"
    if sum(Decimal(str(r["valor"])) for r in body["rateio"]) != value:
        return "A soma do rateio deve ser igual ao valor"
    return None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _handler(fake: FakeContaAzul) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        # headers and body leave in two writes: with Nagle on, each answer waits ~40 ms for an ACK
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _answer(self, status: int, body: dict[str, Any] | None,
                    headers: dict[str, str] | None = None) -> None:
            raw = json.dumps(body).encode() if body is not None else b""
            self.send_response(status)
            if body is not None:
                self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(raw)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(raw)

        def _body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def do_GET(self) -> None:
            self._route("GET")

        def do_POST(self) -> None:
            self._route("POST")

        def do_DELETE(self) -> None:
            self._route("DELETE")

        def _route(self, method: str) -> None:
            parts = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
            raw = self._body()
            if parts.path == "/oauth2/authorize":
                return self._authorize(query)
            if parts.path == "/oauth2/token":
                return self._token(raw)
            body = json.loads(raw) if raw else None
            with fake._lock:
                fake.requests.append({"method": method, "path": parts.path, "query": query, "body": body})
                if self.headers.get("Authorization", "").removeprefix("Bearer ") not in fake.access_tokens:
                    return self._answer(401, {"error": "invalid_token", "message": "Unauthorized"})
                if fake.scripted:
                    failure = fake.scripted.popleft()
                    return self._answer(failure.status, failure.body, failure.headers)
                status, answer = self._api(method, parts.path, query, body)
            self._answer(status, answer)

        def _api(self, method: str, path: str, query: dict[str, str],
                 body: Any) -> tuple[int, dict[str, Any] | None]:
            if path == "/v1/pessoas":
                return fake.create_person(body or {}) if method == "POST" else (200, fake.find_people(query))
            if path == RECEIVABLES and method == "POST":
                return fake.create_receivable(body or {})
            if path == RECEIVABLES + "/buscar" and method == "GET":
                return fake.search(query)
            match = _PARCEL.match(path)
            parcel = fake.parcels.get(match["id"]) if match else None
            if parcel is None:
                return 404, {"message": "Parcela não encontrada"}
            if match and match["baixa"] and method == "POST":
                return 201, {"id": fake._settle(parcel, body)}
            if method == "DELETE":
                if parcel["baixas"]:
                    return 400, {"message": "Parcela com baixa não pode ser excluída"}
                del fake.parcels[parcel["id"]]
                return 204, None
            return 200, parcel

        def _authorize(self, query: dict[str, str]) -> None:
            if query.get("client_id") != CLIENT_ID or query.get("response_type") != "code":
                return self._answer(400, {"error": "invalid_request"})
            code = "code-" + secrets.token_hex(6)
            fake.codes[code] = query["redirect_uri"]
            target = query["redirect_uri"] + "?" + urlencode({"code": code, "state": query.get("state", "")})
            self._answer(302, None, {"Location": target})

        def _token(self, raw: bytes) -> None:
            expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
            if self.headers.get("Authorization") != f"Basic {expected}":
                return self._answer(401, {"error": "invalid_client"})
            form = {k: v[-1] for k, v in parse_qs(raw.decode()).items()}
            status, answer = fake.token(form)
            with fake._lock:
                lose = fake.lose_token_answers > 0 and status == 200
                fake.lose_token_answers -= 1 if lose else 0
            if lose:  # processed, rotated, and the answer never arrives
                self.close_connection = True
                self.connection.shutdown(2)
                return
            self._answer(status, answer)

    return Handler


@contextmanager
def conta_azul_server(grace: float = 60.0) -> Iterator[FakeContaAzul]:
    fake = FakeContaAzul(grace=grace)
    with serving(_handler(fake)) as url:
        fake.url = url
        yield fake
