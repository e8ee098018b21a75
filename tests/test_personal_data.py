"""Personal data masked in records: the formats, the product's log lines, and the session scan."""

from __future__ import annotations

import json
import logging

import pytest
import structlog

from engine.runtime import logs
from personal_data import mask_email, mask_phone, mask_text, mask_value
from tests.support.personal_data_scan import demo_values, findings


@pytest.mark.parametrize(("raw", "masked"), [
    ("+5511987654321", "+55 11 9****-4321"), ("whatsapp:+5511987654321", "+55 11 9****-4321"),
    ("+551134567890", "+55 11 ****-7890"), ("(11) 98765-4321", "11 9****-4321"),
    ("+1 415 523 8886", "+1 ******8886")])
def test_phones_keep_country_area_first_digit_and_last_four(raw: str, masked: str) -> None:
    assert mask_phone(raw) == masked


def test_text_is_masked_everywhere_and_masking_twice_changes_nothing() -> None:
    text = ("Cliente joao.silva@example.com, CPF 529.982.247-25 (52998224725), CNPJ 11.222.333/0001-81, "
            "tel +5511987654321 ou (11) 98765-4321; pedido 12345678901 em 2026-12-05")
    masked = mask_text(text)
    assert masked == ("Cliente j***@example.com, CPF ***.982.247-** (***.982.247-**), "
                      "CNPJ **.222.333/0001-**, tel +55 11 9****-4321 ou 11 9****-4321; "
                      "pedido 12345678901 em 2026-12-05")
    assert mask_text(masked) == masked
    assert mask_email("a@b.example") == "a***@b.example"
    assert mask_value({"to": ["maria@example.com"], "n": 3}) == {"to": ["m***@example.com"], "n": 3}


def test_text_without_a_digit_or_an_at_sign_comes_back_as_it_is() -> None:
    words = "Sua visita é amanhã"
    assert mask_text(words) is words
    assert mask_text("ligue +5511987654321") == "ligue +55 11 9****-4321"
    assert mask_text("escreva para maria@example.com") == "escreva para m***@example.com"


def test_a_raw_phone_logged_through_the_products_logger_comes_out_masked(
        capsys: pytest.CaptureFixture[str]) -> None:
    demo_phone = sorted(v for v in demo_values() if v.startswith("+"))[0]
    logs.configure("INFO")
    try:
        structlog.get_logger("despacho.test").info("sms_sent", to=demo_phone, detail=f"to {demo_phone}")
        logging.getLogger("despacho.library").warning("delivery to %s failed", demo_phone)
    finally:
        structlog.reset_defaults()
        logging.getLogger().handlers[:] = [h for h in logging.getLogger().handlers
                                           if not isinstance(h, logs._JsonLines)]
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 2 and demo_phone not in "".join(lines)
    assert json.loads(lines[0])["to"] == mask_phone(demo_phone)
    assert findings(lines, demo_values(), product=True) == []


def test_the_scan_finds_unmasked_demo_data_and_shapes_in_product_lines() -> None:
    demo = sorted(demo_values())
    product_line = json.dumps({"event": "sent", "level": "info", "to": "+5511912345678"})
    assert findings([f"sent to {demo[0]}"], frozenset(demo), product=False) == [f"sent to {demo[0]}"]
    assert findings([product_line], frozenset(), product=True) == [product_line]
    masked = json.dumps({"event": "sent", "level": "info", "to": mask_phone("+5511912345678")})
    assert findings([masked], frozenset(demo), product=True) == []
