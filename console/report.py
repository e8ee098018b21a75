"""The dashboard's figures as labelled rows and tables (pt-BR): what the page, the Excel file and
the PDF all show, so the three never disagree and every figure carries its help text once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from console.metrics import Dashboard

CHANNELS = {"email": "E-mail", "sms": "SMS", "whatsapp": "WhatsApp"}
STATUSES = {"pending": "pendente", "sent": "enviada", "delivered": "entregue", "read": "lida",
            "failed": "falhou", "undelivered": "não entregue"}


@dataclass(frozen=True)
class Figure:
    key: str
    label: str
    value: Any  # int, float, Decimal or None (no data); formatted by ``text``
    kind: str  # "count", "hours", "percent", "money"
    help: str

    @property
    def text(self) -> str:
        return format_value(self.value, self.kind)


@dataclass(frozen=True)
class Table:
    key: str
    title: str
    columns: list[str]
    kinds: list[str]
    rows: list[list[Any]]

    def text_rows(self) -> list[list[str]]:
        return [[format_value(value, kind) for value, kind in zip(row, self.kinds, strict=True)]
                for row in self.rows]


def figures(board: Dashboard) -> list[Figure]:
    o, m, s = board.orders, board.money, board.sms
    return [
        Figure("opened", "Ordens abertas", o.opened, "count", "Ordens de serviço criadas no período."),
        Figure("completed", "Ordens concluídas", o.completed, "count", "Ordens concluídas no período."),
        Figure("cancelled", "Ordens canceladas", o.cancelled, "count", "Ordens canceladas no período."),
        Figure("time_to_assign", "Tempo até atribuir", o.mean_hours_to_assign, "hours",
               "Média, em horas, entre a abertura e a primeira atribuição de técnico, das ordens "
               "abertas no período."),
        Figure("time_to_complete", "Tempo até concluir", o.mean_hours_to_complete, "hours",
               "Média, em horas, entre a abertura e a conclusão, das ordens concluídas no período."),
        Figure("sla", "Cumprimento do SLA", o.sla_compliance, "percent",
               "Das ordens concluídas no período que tinham prazo, a parte concluída dentro do prazo."),
        Figure("invoiced", "Faturado", m.invoiced, "money",
               "Soma das faturas emitidas no período (canceladas não contam)."),
        Figure("received", "Recebido", m.received, "money", "Soma dos pagamentos recebidos no período."),
        Figure("overdue", "Vencido", m.overdue, "money",
               "O que ainda se deve de faturas vencidas até hoje, qualquer que seja o período."),
        Figure("overdue_invoices", "Faturas vencidas", m.overdue_invoices, "count",
               "Quantidade de faturas vencidas e não pagas."),
        Figure("sms_segments", "Segmentos de SMS", s.segments, "count",
               "Cada SMS é cobrado por segmento: 160 caracteres GSM-7 ou 70 com acentos fora dele "
               "(153 e 67 quando a mensagem tem vários)."),
        Figure("sms_cost", "Custo de SMS", s.cost, "money",
               "Segmentos vezes o preço por segmento (connectors.sms.segment_price)."),
    ]


def tables(board: Dashboard) -> list[Table]:
    return [
        Table("daily", "Ordens por dia", ["Dia", "Abertas", "Concluídas"], ["date", "count", "count"],
              [[d.day, d.opened, d.completed] for d in board.daily]),
        Table("technicians", "Utilização dos técnicos",
              ["Técnico", "Região", "Horas agendadas", "Horas disponíveis", "Utilização", "Concluídas"],
              ["text", "text", "hours", "hours", "percent", "count"],
              [[t.name, t.region, t.booked_hours, t.available_hours, t.utilisation, t.completed]
               for t in board.technicians]),
        Table("notifications", "Notificações por canal e situação",
              ["Canal", "Situação", "Mensagens", "Segmentos"], ["text", "text", "count", "count"],
              [[CHANNELS.get(n.channel, n.channel), STATUSES.get(n.status, n.status), n.count, n.segments]
               for n in board.notifications]),
    ]


def filter_lines(board: Dashboard, names: dict[str, str] | None = None) -> list[tuple[str, str]]:
    """The filters in force, as label/value pairs for the page and the reports."""
    f = board.filters
    days = f.days()
    lines = [("Período", f"{format_value(days[0], 'date')} a {format_value(days[-1], 'date')}")]
    if f.region:
        lines.append(("Região", f.region))
    if f.technician_id:
        lines.append(("Técnico", (names or {}).get(f.technician_id, f.technician_id)))
    if f.category:
        lines.append(("Categoria", f.category))
    return lines


def format_value(value: Any, kind: str) -> str:
    """pt-BR: ``1.234``, ``12,5 h``, ``87,5%``, ``R$ 1.234,56``, ``05/12/2026``; no data is "—"."""
    if value is None:
        return "—"
    if kind == "count":
        return _grouped(f"{int(value):,}")
    if kind == "hours":
        return _grouped(f"{float(value):,.1f}") + " h"
    if kind == "percent":
        return _grouped(f"{float(value) * 100:,.1f}") + "%"
    if kind == "money":
        return "R$ " + _grouped(f"{Decimal(value):,.2f}")
    if kind == "date" and isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    return str(value)


def _grouped(english: str) -> str:
    return english.replace(",", "\0").replace(".", ",").replace("\0", ".")
