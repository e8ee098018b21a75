"""Rendered params as step rows and dead letters keep them: secrets and personal data masked."""

from __future__ import annotations

from engine.language.masking import MASK, mask_params, mask_url


def test_secret_looking_keys_are_masked_at_any_depth() -> None:
    params = {"url": "https://hooks.example.com/os", "method": "POST",
              "headers": {"Authorization": "Bearer abc", "X-Api-Key": "k1", "Accept": "application/json"},
              "json": {"order": "o1", "client_secret": "s3", "nested": [{"password": "p"}]}}
    masked = mask_params(params)
    assert masked["headers"] == {"Authorization": MASK, "X-Api-Key": MASK, "Accept": "application/json"}
    assert masked["json"] == {"order": "o1", "client_secret": MASK, "nested": [{"password": MASK}]}
    assert masked["url"] == "https://hooks.example.com/os"
    assert params["headers"]["Authorization"] == "Bearer abc"  # the original is left alone


def test_message_params_keep_their_text_but_not_the_personal_data() -> None:
    params = {"to": "+5511987654321", "body": "Olá Maria, sua visita é amanhã às 09:00",
              "cc": ["joana.lima@example.com"], "cpf": "529.982.247-25"}
    assert mask_params(params) == {"to": "+55 11 9****-4321", "body": params["body"],
                                   "cc": ["j***@example.com"], "cpf": "***.982.247-**"}
    assert params["to"] == "+5511987654321"  # what the connector is called with stays as rendered


def test_a_password_or_token_in_a_url_is_masked() -> None:
    assert mask_url("https://user:pw@example.com/x?token=abc&os=1") == \
        "https://user:***@example.com/x?token=***&os=1"
    assert mask_params({"url": "https://example.com/x?access_token=abc"}) == {
        "url": "https://example.com/x?access_token=***"}


def test_a_deep_structure_is_cut_not_copied_whole() -> None:
    deep: dict = {}
    node = deep
    for _ in range(200):
        node["a"] = {}
        node = node["a"]
    masked = mask_params(deep)
    depth = 0
    while isinstance(masked, dict):
        masked, depth = masked["a"], depth + 1
    assert masked == MASK and depth <= 25
