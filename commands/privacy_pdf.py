"""The readable PDF of a subject's data export: the same document as the JSON, for people.

Headings are in Portuguese: the file is handed to the data subject. The PDF core fonts
cover Latin-1, which holds Portuguese; any other character is shown as ``?`` (the JSON
beside it has the exact text).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SECTION_TITLES = {
    "customer": "Cadastro", "service_orders": "Ordens de serviço", "appointments": "Visitas",
    "invoices": "Faturas", "payments": "Pagamentos", "notifications": "Mensagens enviadas",
    "whatsapp_conversations": "Conversas de WhatsApp", "whatsapp_messages": "Mensagens de WhatsApp",
    "events": "Eventos", "rule_runs": "Execuções de regras", "rule_steps": "Ações executadas",
    "dead_letters": "Ações que falharam", "calendar_links": "Agenda (Google Calendar)",
    "accounting_records": "Sistemas contábeis", "accounting_audit": "Envios a sistemas contábeis",
    "audit_log": "Registro de auditoria", "privacy_requests": "Solicitações de titular",
}
MAX_VALUE = 4000  # a value longer than this (a big payload) is cut in the PDF; the JSON has it whole


def latin1(text: str) -> str:
    return text.encode("latin-1", "replace").decode("latin-1")


def write_pdf(document: dict[str, Any], path: Path, *, company: str) -> None:
    from fpdf import FPDF
    from fpdf.enums import XPos, YPos

    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.set_title(latin1(f"Dados pessoais - {company}"))
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.multi_cell(0, 9, latin1(f"{company}: dados pessoais do titular"), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("Helvetica", "", 9)
    pdf.multi_cell(0, 5, latin1(f"Gerado em {document['generated_at']} (LGPD, art. 18, II e V). Todos os "
                                "dados que mantemos sobre você, como estão guardados; o arquivo JSON que "
                                "acompanha este PDF traz os mesmos dados em formato legível por máquina."),
                   new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    for name, content in document.items():
        if name == "generated_at":
            continue
        rows = content if isinstance(content, list) else [content]
        pdf.ln(3)
        pdf.set_font("Helvetica", "B", 12)
        title = SECTION_TITLES.get(name, name.replace("_", " ").capitalize())
        pdf.multi_cell(0, 7, latin1(f"{title} ({len(rows)})"), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        if not rows:
            pdf.set_font("Helvetica", "I", 9)
            pdf.multi_cell(0, 5, "Nenhum registro.", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        for row in rows:
            _row(pdf, row)
    pdf.output(str(path))


def _row(pdf: Any, row: dict[str, Any]) -> None:
    from fpdf.enums import XPos, YPos

    pdf.set_font("Helvetica", "", 8)
    for key, value in row.items():
        shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
        if len(shown) > MAX_VALUE:
            shown = shown[:MAX_VALUE] + " [...]"
        pdf.multi_cell(0, 4, latin1(f"{key}: {shown}"), new_x=XPos.LMARGIN, new_y=YPos.NEXT,
                       wrapmode="CHAR")
    pdf.ln(1.5)
