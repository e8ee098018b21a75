"""A local HTTP server that speaks Omie's API, for the Omie adapter's real httpx calls.

``POST /api/v1/<module>/`` with ``{"call", "app_key", "app_secret", "param": [{...}]}``; answers
as Omie does: 200 with the method's response object, or HTTP 500 with ``{"faultstring":
"ERROR: ...", "faultcode": "SOAP-ENV:Client-NNN"}``, and 429 past the simultaneous calls of a
method. Integration codes are unique ("já cadastrado" on a second create), a consultation
repeated within the window is "consumo redundante", an empty list page is Client-5113.

Scripted failures: ``fail_next(...)`` (a fault for the next call, or the next call of a method),
``drop_next(method)`` (the call takes effect, then the connection closes without an answer: a
lost response), ``slow(seconds)`` (every call takes that long, so concurrency shows). A
settlement made in the ERP: ``receive(codigo_lancamento_integracao, valor, data)``.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler
from typing import Any
from zoneinfo import ZoneInfo

from tests.fakes.serving import serving

APP_KEY = "1234567890123"
APP_SECRET = "a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4"
ZONE = ZoneInfo("America/Sao_Paulo")
MODULES = {"geral/clientes", "financas/contareceber", "servicos/os", "servicos/osp"}


class Fault(Exception):
    def __init__(self, faultstring: str, faultcode: str = "SOAP-ENV:Client-103", status: int = 500) -> None:
        super().__init__(faultstring)
        self.body = {"faultstring": faultstring, "faultcode": faultcode}
        self.status = status


@dataclass
class Scripted:
    method: str | None
    status: int
    body: dict[str, Any] | None  # None: an empty body (a proxy's 502, say)


def _date(value: Any, name: str) -> date:
    try:
        return datetime.strptime(str(value), "%d/%m/%Y").date()
    except ValueError:
        raise Fault(f"ERROR: Data inválida para o campo [{name}]: [{value}]", "SOAP-ENV:Client-107") from None


def _money(value: Any, name: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise Fault(f"ERROR: O campo [{name}] deve ser numérico", "SOAP-ENV:Client-107")
    amount = Decimal(str(value))
    if amount <= 0 or amount.as_tuple().exponent < -2:  # type: ignore[operator]
        raise Fault(f"ERROR: Valor inválido para o campo [{name}]: [{value}]", "SOAP-ENV:Client-107")
    return amount


@dataclass
class FakeOmie:
    url: str = ""
    app_key: str = APP_KEY
    app_secret: str = APP_SECRET
    concurrent_limit: int = 4
    redundant_window: float = 60.0
    delay: float = 0.0
    customers: dict[int, dict[str, Any]] = field(default_factory=dict)
    receivables: dict[int, dict[str, Any]] = field(default_factory=dict)
    settlements: dict[int, dict[str, Any]] = field(default_factory=dict)
    orders: dict[int, dict[str, Any]] = field(default_factory=dict)
    calls: list[dict[str, Any]] = field(default_factory=list)  # every request body, secrets included
    scripted: deque[Scripted] = field(default_factory=deque)
    drops: set[str] = field(default_factory=set)
    max_in_flight: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    refused_concurrent: int = 0
    _in_flight: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    _consulted: dict[str, float] = field(default_factory=dict)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(2_485_994_001))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # scripting -------------------------------------------------------------------------------
    def fail_next(self, faultstring: str | None, faultcode: str = "SOAP-ENV:Client-103", *, status: int = 500,
                  method: str | None = None) -> None:
        body = None if faultstring is None else {"faultstring": faultstring, "faultcode": faultcode}
        self.scripted.append(Scripted(method, status, body))

    def answer_next(self, body: dict[str, Any], *, status: int = 200, method: str | None = None) -> None:
        """Any answer at all for the next call: what a broken or hostile server might send."""
        self.scripted.append(Scripted(method, status, body))

    def drop_next(self, method: str) -> None:
        self.drops.add(method)

    def slow(self, seconds: float) -> None:
        self.delay = seconds

    def receive(self, codigo_lancamento_integracao: str, valor: Decimal | str, data: str,
                hora: str = "10:30:00") -> int:
        """A settlement made by someone in Omie's screens: the receivable becomes RECEBIDO."""
        with self._lock:
            record = self._receivable_by_code(codigo_lancamento_integracao)
            return self._settle(record, Decimal(str(valor)), data, hora, code="")

    # lookups -----------------------------------------------------------------------------------
    def receivable(self, code: str) -> dict[str, Any]:
        return self._receivable_by_code(code)

    def calls_of(self, method: str) -> list[dict[str, Any]]:
        return [call["param"][0] for call in self.calls if call.get("call") == method]

    def _receivable_by_code(self, code: str) -> dict[str, Any]:
        for record in self.receivables.values():
            if record["codigo_lancamento_integracao"] == code:
                return record
        raise Fault(f"ERROR: Lançamento não cadastrado para o Código de Integração [{code}] !",
                    "SOAP-ENV:Client-103")

    def _customer(self, param: dict[str, Any]) -> dict[str, Any]:
        number = param.get("codigo_cliente_fornecedor") or param.get("codigo_cliente_omie")
        code = param.get("codigo_cliente_fornecedor_integracao") or param.get("codigo_cliente_integracao")
        for record in self.customers.values():
            if record["codigo_cliente_omie"] == number\
                    or (code and record["codigo_cliente_integracao"] == code):
                return record
        raise Fault(f"ERROR: Cliente não cadastrado para o Código [{number or code}] !",
                    "SOAP-ENV:Client-103")

    def _redundant(self, method: str, param: dict[str, Any]) -> None:
        key = method + json.dumps(param, sort_keys=True)
        now = time.monotonic()
        last = self._consulted.get(key)
        if last is not None and now - last < self.redundant_window:
            wait = int(self.redundant_window - (now - last)) + 1
            raise Fault(f"ERROR: Consumo redundante detectado. Aguarde {wait} segundos", "SOAP-ENV:Client-6")
        self._consulted[key] = now

    # methods -----------------------------------------------------------------------------------
    def handle(self, method: str, param: dict[str, Any]) -> dict[str, Any]:
        handler: Callable[[dict[str, Any]], dict[str, Any]] | None = getattr(self, f"_m_{method}", None)
        if handler is None:
            raise Fault(f"ERROR: Method [{method}] not found", "SOAP-ENV:Client-1")
        if method.startswith("Consultar"):
            self._redundant(method, param)
        return handler(param)

    def _m_ListarClientes(self, param: dict[str, Any]) -> dict[str, Any]:
        rows = list(self.customers.values())
        if not rows:
            raise Fault("ERROR: Não existem registros para a página [1]!", "SOAP-ENV:Client-5113")
        return {"pagina": 1, "total_de_paginas": 1, "registros": min(len(rows), 1),
                "total_de_registros": len(rows), "clientes_cadastro": rows[:1]}

    def _m_UpsertCliente(self, param: dict[str, Any]) -> dict[str, Any]:
        code = param.get("codigo_cliente_integracao") or ""
        if not code or not param.get("razao_social"):
            raise Fault("ERROR: Tag [razao_social] obrigatória não informada!", "SOAP-ENV:Client-8")
        for record in self.customers.values():
            if param.get("cnpj_cpf") and record.get("cnpj_cpf") == param["cnpj_cpf"] \
                    and record["codigo_cliente_integracao"] != code:
                raise Fault(f"ERROR: Cliente já cadastrado para o CPF/CNPJ [{param['cnpj_cpf']}] com o Id "
                            f"[{record['codigo_cliente_omie']}] !", "SOAP-ENV:Client-102")
        existing = next((r for r in self.customers.values() if r["codigo_cliente_integracao"] == code), None)
        number = existing["codigo_cliente_omie"] if existing else next(self._ids)
        self.customers[number] = {**(existing or {}), **param, "codigo_cliente_omie": number}
        done = "alterado" if existing else "cadastrado"
        return {"codigo_cliente_omie": number, "codigo_cliente_integracao": code, "codigo_status": "0",
                "descricao_status": f"Cliente {done} com sucesso!"}

    def _m_ConsultarCliente(self, param: dict[str, Any]) -> dict[str, Any]:
        return dict(self._customer(param))

    def _m_IncluirContaReceber(self, param: dict[str, Any]) -> dict[str, Any]:
        code = str(param.get("codigo_lancamento_integracao") or "")
        if len(code) > 20:
            raise Fault("ERROR: O tamanho do campo [codigo_lancamento_integracao] excede 20 caracteres",
                        "SOAP-ENV:Client-107")
        for record in self.receivables.values():
            if code and record["codigo_lancamento_integracao"] == code:
                raise Fault(f"ERROR: Lançamento já cadastrado para o Código de Integração [{code}] com o ID "
                            f"[{record['codigo_lancamento_omie']}] !", "SOAP-ENV:Client-102")
        customer = self._customer(param)
        due = _date(param.get("data_vencimento"), "data_vencimento")
        amount = _money(param.get("valor_documento"), "valor_documento")
        if not param.get("codigo_categoria"):
            raise Fault("ERROR: Tag [codigo_categoria] obrigatória não informada!", "SOAP-ENV:Client-8")
        number = next(self._ids)
        now = datetime.now(ZONE)
        self.receivables[number] = {
            **param, "codigo_lancamento_omie": number, "codigo_lancamento_integracao": code,
            "codigo_cliente_fornecedor": customer["codigo_cliente_omie"], "valor_documento": float(amount),
            "data_vencimento": due.strftime("%d/%m/%Y"), "status_titulo": "A VENCER", "_paid": Decimal("0"),
            "info": {"dInc": now.strftime("%d/%m/%Y"), "hInc": now.strftime("%H:%M:%S"),
                     "dAlt": now.strftime("%d/%m/%Y"), "hAlt": now.strftime("%H:%M:%S"), "cImpAPI": "S"},
        }
        return {"codigo_lancamento_omie": number, "codigo_lancamento_integracao": code,
                "codigo_status": "0", "descricao_status": "Lançamento cadastrado com sucesso!"}

    def _by_key(self, param: dict[str, Any]) -> dict[str, Any]:
        number = param.get("codigo_lancamento_omie") or param.get("chave_lancamento") \
            or param.get("codigo_lancamento")
        if number:
            if number not in self.receivables:
                raise Fault(f"ERROR: Lançamento não encontrado para o ID [{number}] !", "SOAP-ENV:Client-103")
            return self.receivables[number]
        return self._receivable_by_code(str(param.get("codigo_lancamento_integracao") or ""))

    def _m_ConsultarContaReceber(self, param: dict[str, Any]) -> dict[str, Any]:
        return self._public(self._by_key(param))

    def _m_CancelarContaReceber(self, param: dict[str, Any]) -> dict[str, Any]:
        record = self._by_key(param)
        if record["status_titulo"] == "CANCELADO":
            raise Fault("ERROR: Lançamento já cancelado!", "SOAP-ENV:Client-102")
        if record["_paid"] > 0:
            raise Fault("ERROR: Não é possível cancelar um lançamento que possui baixas!",
                        "SOAP-ENV:Client-107")
        record["status_titulo"] = "CANCELADO"
        return {"codigo_lancamento": record["codigo_lancamento_omie"],
                "codigo_lancamento_integracao": record["codigo_lancamento_integracao"],
                "codigo_status": "0", "descricao_status": "Lançamento cancelado com sucesso!"}

    def _m_LancarRecebimento(self, param: dict[str, Any]) -> dict[str, Any]:
        record = self._by_key(param)
        code = str(param.get("codigo_baixa_integracao") or "")
        if code and any(s["codigo_baixa_integracao"] == code for s in self.settlements.values()):
            raise Fault(f"ERROR: Já existe uma baixa cadastrada com o Código de Integração [{code}] !",
                        "SOAP-ENV:Client-102")
        if not param.get("codigo_conta_corrente"):
            raise Fault("ERROR: Tag [codigo_conta_corrente] obrigatória não informada!", "SOAP-ENV:Client-8")
        amount = _money(param.get("valor"), "valor")
        _date(param.get("data"), "data")
        number = self._settle(record, amount, str(param["data"]), "12:00:00", code)
        return {"codigo_lancamento": record["codigo_lancamento_omie"], "codigo_baixa": number,
                "codigo_baixa_integracao": code,
                "liquidado": "S" if record["status_titulo"] == "RECEBIDO" else "N",
                "valor_baixado": float(amount), "codigo_status": "0",
                "descricao_status": "Recebimento lançado com sucesso!"}

    def _settle(self, record: dict[str, Any], amount: Decimal, data: str, hora: str, code: str) -> int:
        if record["status_titulo"] == "CANCELADO":
            raise Fault("ERROR: Lançamento cancelado não pode receber baixa!", "SOAP-ENV:Client-107")
        open_amount = Decimal(str(record["valor_documento"])) - record["_paid"]
        if amount > open_amount:
            raise Fault(f"ERROR: Valor da baixa [{amount}] maior que o saldo [{open_amount}]!",
                        "SOAP-ENV:Client-107")
        number = next(self._ids)
        self.settlements[number] = {"codigo_baixa": number, "codigo_baixa_integracao": code,
                                    "codigo_lancamento": record["codigo_lancamento_omie"], "valor": amount,
                                    "data": data}
        record["_paid"] += amount
        if record["_paid"] == Decimal(str(record["valor_documento"])):
            record["status_titulo"] = "RECEBIDO"
        record["info"] = {**record["info"], "dAlt": data, "hAlt": hora}
        return number

    def _m_CancelarRecebimento(self, param: dict[str, Any]) -> dict[str, Any]:
        settlement = self.settlements.pop(param.get("codigo_baixa"), None)  # type: ignore[arg-type]
        if settlement is None:
            raise Fault(f"ERROR: Baixa não encontrada para o ID [{param.get('codigo_baixa')}] !")
        record = self.receivables[settlement["codigo_lancamento"]]
        record["_paid"] -= settlement["valor"]
        record["status_titulo"] = "A VENCER"
        return {"codigo_baixa": settlement["codigo_baixa"], "codigo_status": "0",
                "descricao_status": "Baixa cancelada com sucesso!"}

    def _m_ListarContasReceber(self, param: dict[str, Any]) -> dict[str, Any]:
        page = int(param.get("pagina") or 1)
        size = min(int(param.get("registros_por_pagina") or 20), 500)
        ordered = sorted(self.receivables.values(), key=lambda r: r["codigo_lancamento_omie"])
        rows = [self._public(r) for r in ordered]
        if param.get("filtrar_por_status"):
            rows = [r for r in rows if r["status_titulo"] == param["filtrar_por_status"]]
        if param.get("filtrar_por_data_de"):
            hour = datetime.strptime(param.get("filtrar_por_hora_de") or "00:00:00", "%H:%M:%S").time()
            since = datetime.combine(_date(param["filtrar_por_data_de"], "filtrar_por_data_de"), hour)
            rows = [r for r in rows if datetime.strptime(f"{r['info']['dAlt']} {r['info']['hAlt']}",
                                                         "%d/%m/%Y %H:%M:%S") >= since]
        pages = max((len(rows) + size - 1) // size, 1)
        chunk = rows[(page - 1) * size: page * size]
        if not chunk:
            raise Fault(f"ERROR: Não existem registros para a página [{page}]!", "SOAP-ENV:Client-5113")
        return {"pagina": page, "total_de_paginas": pages, "registros": len(chunk),
                "total_de_registros": len(rows), "conta_receber_cadastro": chunk}

    def _public(self, record: dict[str, Any]) -> dict[str, Any]:
        row = {key: value for key, value in record.items() if not key.startswith("_")}
        if row["status_titulo"] in ("A VENCER", "ATRASADO", "VENCE HOJE"):
            due, today = _date(row["data_vencimento"], "data_vencimento"), datetime.now(ZONE).date()
            row["status_titulo"] = "A VENCER" if due > today else "VENCE HOJE" if due == today else "ATRASADO"
        return row

    def _m_IncluirOS(self, param: dict[str, Any]) -> dict[str, Any]:
        header = param.get("Cabecalho") or {}
        code = str(header.get("cCodIntOS") or "")
        for order in self.orders.values():
            if code and order["Cabecalho"]["cCodIntOS"] == code:
                raise Fault(f"ERROR: Ordem de Serviço já cadastrada para o Código de Integração [{code}] !",
                            "SOAP-ENV:Client-102")
        self._customer({"codigo_cliente_integracao": header.get("cCodIntCli"),
                        "codigo_cliente_omie": header.get("nCodCli")})
        services = param.get("ServicosPrestados") or []
        if not services:
            raise Fault("ERROR: Informe ao menos um serviço prestado!", "SOAP-ENV:Client-8")
        total = sum((Decimal(str(s["nValUnit"])) * Decimal(str(s["nQtde"])) for s in services), Decimal("0"))
        number = next(self._ids)
        self.orders[number] = {"Cabecalho": {**header, "nCodOS": number, "cNumOS": str(len(self.orders) + 1),
                                             "nValorTotal": float(total)},
                               "ServicosPrestados": services,
                               "InfoCadastro": {"cFaturada": "N", "cCancelada": "N"},
                               "InformacoesAdicionais": param.get("InformacoesAdicionais") or {}}
        return {"cCodIntOS": code, "nCodOS": number, "cNumOS": self.orders[number]["Cabecalho"]["cNumOS"],
                "cCodStatus": "0", "cDescStatus": "Ordem de Serviço cadastrada com sucesso!"}

    def _order(self, param: dict[str, Any]) -> dict[str, Any]:
        for order in self.orders.values():
            header = order["Cabecalho"]
            if header["nCodOS"] == param.get("nCodOS") or (param.get("cCodIntOS")
                                                           and header["cCodIntOS"] == param.get("cCodIntOS")):
                return order
        raise Fault("ERROR: Ordem de Serviço não cadastrada!", "SOAP-ENV:Client-103")

    def _m_ConsultarOS(self, param: dict[str, Any]) -> dict[str, Any]:
        return json.loads(json.dumps(self._order(param)))

    def _m_FaturarOS(self, param: dict[str, Any]) -> dict[str, Any]:
        order = self._order(param)
        if order["InfoCadastro"]["cFaturada"] == "S":
            raise Fault("ERROR: Ordem de Serviço já faturada!", "SOAP-ENV:Client-102")
        order["InfoCadastro"]["cFaturada"] = "S"
        order["nfse"] = {"nNumeroNFSe": str(len([o for o in self.orders.values() if "nfse" in o]) + 1),
                         "nValorNFSe": order["Cabecalho"]["nValorTotal"]}
        header = order["Cabecalho"]
        return {"cCodIntOS": header["cCodIntOS"], "nCodOS": header["nCodOS"], "cCodStatus": "0",
                "cDescStatus": "Ordem de Serviço faturada com sucesso!"}


def _handler(fake: FakeOmie) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        # headers and body leave in two writes: with Nagle on, each answer waits ~40 ms for an ACK
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _answer(self, status: int, body: dict[str, Any] | None) -> None:
            raw = b"" if body is None else json.dumps(body, ensure_ascii=False).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            module = self.path.removeprefix("/api/v1/").rstrip("/")
            if module not in MODULES or not self.path.endswith("/"):
                self._answer(404, {"faultstring": f"Serviço [{self.path}] não encontrado",
                                   "faultcode": "404"})
                return
            try:
                body = json.loads(raw)
                method, param = body["call"], body["param"][0]
            except (ValueError, KeyError, IndexError, TypeError):
                self._answer(500, {"faultstring": "JSON request with SyntaxError",
                                   "faultcode": "SOAP-ENV:Client-1"})
                return
            with fake._lock:
                fake.calls.append(body)
                scripted = next((s for s in fake.scripted if s.method in (None, method)), None)
                if scripted is not None:
                    fake.scripted.remove(scripted)
                fake._in_flight[method] += 1
                in_flight = fake._in_flight[method]
                fake.max_in_flight[method] = max(fake.max_in_flight[method], in_flight)
            try:
                self._serve(body, method, param, scripted, in_flight)
            finally:
                with fake._lock:
                    fake._in_flight[method] -= 1

        def _serve(self, body: dict[str, Any], method: str, param: dict[str, Any], scripted: Scripted | None,
                   in_flight: int) -> None:
            if in_flight > fake.concurrent_limit:
                with fake._lock:
                    fake.refused_concurrent += 1
                self._answer(429, {"faultstring": "ERROR: Too many requests. Limite de requisições "
                                                  f"simultâneas para o método [{method}] excedido.",
                                   "faultcode": "SOAP-ENV:Client-429"})
                return
            if scripted is not None:
                self._answer(scripted.status, scripted.body)
                return
            if body.get("app_key") != fake.app_key or body.get("app_secret") != fake.app_secret:
                refusal = "ERROR: A chave de acesso não está preenchida ou não é válida!"
                self._answer(500, {"faultstring": refusal, "faultcode": "SOAP-ENV:Client-5"})
                return
            try:
                with fake._lock:
                    answer = fake.handle(method, param)
            except Fault as fault:
                answer, status = fault.body, fault.status
            else:
                status = 200
            if fake.delay:  # after the effect: a slow answer to a call Omie already carried out
                time.sleep(fake.delay)
            if method in fake.drops:
                fake.drops.discard(method)
                self.close_connection = True  # the effect happened; the answer is lost on the way
                self.connection.shutdown(2)
                return
            self._answer(status, answer)

    return Handler


@contextmanager
def omie_server() -> Iterator[FakeOmie]:
    fake = FakeOmie()
    with serving(_handler(fake)) as url:
        fake.url = f"{url}/api/v1/"
        yield fake
