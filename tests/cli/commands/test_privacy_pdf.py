"""The subject's PDF (reportlab): the data drawn as text, whatever characters it holds."""

from __future__ import annotations

from pathlib import Path

from commands.privacy_pdf import write_pdf
from tests.console.test_exports import pdf_text


def test_pdf_draws_every_section_and_value_as_text(tmp_path: Path) -> None:
    document = {"generated_at": "2026-12-01T12:00:00+00:00",
                "customer": {"name": "João <b>Açaí</b> & Cia", "notes": "portão azul\nfalar com Maria",
                             "city": "São Paulo 東京"},
                "events": [{"payload": {"url": "https://example.com/" + "x" * 300}}],
                "invoices": [], "consent_records": [{"channel": "sms", "decision": "granted"}]}
    path = tmp_path / "export.pdf"
    write_pdf(document, path, company="Refrigeração Polar")
    text = "".join(pdf_text(path.read_bytes()).split())
    assert path.read_bytes().startswith(b"%PDF")
    assert "RefrigeraçãoPolar:dadospessoaisdotitular" in text
    assert "name:João<b>Açaí</b>&Cia" in text  # markup in the data is text, not formatting
    assert "Cadastro(1)" in text and "Eventos(1)" in text and "Faturas(0)" in text
    assert "Consentimentos(comunicaçõesdemarketing)(1)" in text
    assert "NenhumRegistro." in text.replace("registro", "Registro")
    assert "SãoPaulo??" in text  # outside Latin-1: shown as '?', the JSON has the exact text
    assert "x" * 300 in text  # a long token is broken across lines, not cut
