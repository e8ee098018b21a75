"""The unsubscribe footer and links: added once, escaped in HTML, refused when no link can be made."""

from __future__ import annotations

from pathlib import Path

from connectors.base import ActionCall, Runtime
from connectors.email import EmailConnector, EmailSettings, SendEmailParams
from connectors.messaging.unsubscribe import UnsubscribeLinks, one_click_headers, with_footer
from errors import PermanentError
from store.keyring import parse_keys
from store.secrets import SecretBox, new_fernet_key

URL = "https://despacho.example.com.br/v1/unsubscribe?t=abc&x=1"


def test_the_footer_goes_before_the_closing_body_tag_with_the_link_escaped() -> None:
    text, html = with_footer("Oferta", "<html><body><p>Oferta</p></body></html>", URL)
    assert text.endswith(f"acesse: {URL}\n")
    assert html is not None
    assert html.index("cancele a inscrição") < html.index("</body>")
    assert 'href="https://despacho.example.com.br/v1/unsubscribe?t=abc&amp;x=1"' in html


def test_a_template_that_shows_the_link_itself_gets_no_second_footer() -> None:
    text, html = with_footer(f"Sair da lista: {URL}", None, URL)
    assert text == f"Sair da lista: {URL}" and html is None


def test_the_headers_are_rfc_8058_one_click() -> None:
    assert one_click_headers(URL) == (("List-Unsubscribe", f"<{URL}>"),
                                      ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"))


def test_a_link_reads_back_as_its_address_in_lower_case() -> None:
    links = UnsubscribeLinks(SecretBox(parse_keys(f"k1:{new_fernet_key()}", "keys")), "https://d.example/")
    url = links.url_for("Maria.Silva@Example.com")
    assert url.startswith("https://d.example/v1/unsubscribe?t=")
    assert links.address_of(url.partition("?t=")[2]) == "maria.silva@example.com"


def test_a_marketing_email_is_refused_where_no_unsubscribe_link_can_be_made(tmp_path: Path) -> None:
    connector = EmailConnector(EmailSettings(), Runtime(outbox=tmp_path))
    params = SendEmailParams(to="maria@example.com", subject="Oferta", body="20%", purpose="marketing")
    draft = connector.compose(ActionCall("send", params, "k1"))
    assert isinstance(draft.refusal, PermanentError) and draft.refusal.code == "no_unsubscribe_link"


def test_dry_run_of_a_marketing_email_shows_where_its_unsubscribe_link_points(tmp_path: Path) -> None:
    connector = EmailConnector(EmailSettings(), Runtime(outbox=tmp_path, public_url="https://d.example"))
    params = SendEmailParams(to="maria@example.com", subject="Oferta", body="20%", purpose="marketing")
    preview = connector.plan("send", params, None)
    assert preview["unsubscribe"].startswith("https://d.example/v1/unsubscribe?t=...")
    transactional = SendEmailParams(to="maria@example.com", subject="Visita", body="amanhã")
    assert "unsubscribe" not in connector.plan("send", transactional, None)
