"""The readable PDF of a subject's data export: the same document as the JSON, for people.

Drawn with reportlab, the one PDF library of the project (the console's report uses it too).
Headings are in Portuguese: the file is handed to the data subject. The standard PDF fonts
cover Latin-1, which holds Portuguese; any other character is shown as ``?`` (the JSON
beside it has the exact text).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

SECTION_TITLES = {
    "customer": "Cadastro", "service_orders": "Ordens de serviço", "appointments": "Visitas",
    "invoices": "Faturas", "payments": "Pagamentos", "notifications": "Mensagens enviadas",
    "whatsapp_conversations": "Conversas de WhatsApp", "whatsapp_messages": "Mensagens de WhatsApp",
    "events": "Eventos", "rule_runs": "Execuções de regras", "rule_steps": "Ações executadas",
    "dead_letters": "Ações que falharam", "calendar_links": "Agenda (Google Calendar)",
    "accounting_records": "Sistemas contábeis", "accounting_audit": "Envios a sistemas contábeis",
    "audit_log": "Registro de auditoria", "privacy_requests": "Solicitações de titular",
    "consent_records": "Consentimentos (comunicações de marketing)",
    "suppressions": "Lista de bloqueio de envios",
}
MAX_VALUE = 4000  # a value longer than this (a big payload) is cut in the PDF; the JSON has it whole


def latin1(text: str) -> str:
    return text.encode("latin-1", "replace").decode("latin-1")


def _para(text: str) -> str:
    """``text`` as Paragraph markup: Latin-1 for the standard fonts, and escaped, because
    reportlab reads ``<`` and ``&`` as its mini-markup (a value from the data must stay text);
    line breaks kept, as a note was written."""
    return escape(latin1(text)).replace("\n", "<br/>")


def write_pdf(document: dict[str, Any], path: Path, *, company: str) -> None:
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

    styles = getSampleStyleSheet()
    title = styles["Title"].clone("export_title", fontSize=16, leading=20, alignment=0)
    intro = styles["BodyText"].clone("export_intro", fontSize=9, leading=11)
    heading = styles["Heading3"].clone("export_heading", fontSize=12, leading=15, spaceBefore=6)
    empty = styles["Italic"].clone("export_empty", fontSize=9, leading=11)
    # a value may be one long token (a URL, a payload): break it anywhere, as the JSON has it whole
    field = styles["BodyText"].clone("export_field", fontSize=8, leading=10, wordWrap="CJK", spaceBefore=0,
                                     spaceAfter=0)
    story: list[Any] = [
        Paragraph(_para(f"{company}: dados pessoais do titular"), title),
        Paragraph(_para(f"Gerado em {document['generated_at']} (LGPD, art. 18, II e V). Todos os dados que "
                        "mantemos sobre você, como estão guardados; o arquivo JSON que acompanha este PDF "
                        "traz os mesmos dados em formato legível por máquina."), intro)]
    for name, content in document.items():
        if name == "generated_at":
            continue
        rows = content if isinstance(content, list) else [content]
        section = SECTION_TITLES.get(name, name.replace("_", " ").capitalize())
        story.append(Paragraph(_para(f"{section} ({len(rows)})"), heading))
        if not rows:
            story.append(Paragraph("Nenhum registro.", empty))
        for row in rows:
            story.extend(Paragraph(_para(line), field) for line in _lines(row))
            story.append(Spacer(1, 1.5 * mm))
    doc = SimpleDocTemplate(str(path), pagesize=A4, title=latin1(f"Dados pessoais - {company}"),
                            author=latin1(company), leftMargin=10 * mm, rightMargin=10 * mm,
                            topMargin=10 * mm, bottomMargin=15 * mm)
    doc.build(story)


def _lines(row: dict[str, Any]) -> list[str]:
    lines = []
    for key, value in row.items():
        shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
        if len(shown) > MAX_VALUE:
            shown = shown[:MAX_VALUE] + " [...]"
        lines.append(f"{key}: {shown}")
    return lines
