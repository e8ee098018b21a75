"""Unsubscribe links for marketing email: an opaque token per address, and the RFC 8058 headers.

A marketing email carries ``List-Unsubscribe: <https://.../v1/unsubscribe?t=TOKEN>`` and
``List-Unsubscribe-Post: List-Unsubscribe=One-Click`` (RFC 2369 and RFC 8058), so a mail
client's own "unsubscribe" button works with one click, and the same link in the body's
footer. The token is the address encrypted and authenticated with the secrets store's
Fernet keys (``store.secrets.SecretBox``): it cannot be forged or changed to another
address, and unlike a signed token it does not show the address in mail logs and proxy
logs that record URLs. It never expires: a link in an old email must still work, as the
law and the mailbox providers expect. Rotating the secrets keys keeps old links valid as
long as the old key stays in the ring.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from errors import DespachoError

if TYPE_CHECKING:
    from store.secrets import SecretBox

PATH = "/v1/unsubscribe"
ONE_CLICK = "List-Unsubscribe=One-Click"
# a token for a 254-character address is about 450 characters; anything far longer is not one of ours
MAX_TOKEN = 1024
_USE = "unsubscribe"
FOOTER_TEXT = "Para não receber mais nossas mensagens de marketing por e-mail, acesse: {url}"
FOOTER_HTML = ('<p style="font-size:12px;color:#555">Para não receber mais nossas mensagens de marketing '
               'por e-mail, <a href="{url}">cancele a inscrição</a>.</p>')


class BadUnsubscribeToken(DespachoError):
    """The token of an unsubscribe link is not one despacho made (forged, cut, or too long)."""

    code = "bad_unsubscribe_token"


@dataclass(frozen=True)
class UnsubscribeLinks:
    """Makes and reads the links; ``base_url`` is ``api.public_url``."""

    box: SecretBox
    base_url: str

    def url_for(self, address: str) -> str:
        token = self.box.encrypt(json.dumps({"use": _USE, "a": address.lower()}, separators=(",", ":")))
        return f"{self.base_url.rstrip('/')}{PATH}?t={token.decode('ascii')}"


    def address_of(self, token: str) -> str:
        """The address a token was made for; raises ``BadUnsubscribeToken``."""
        if not token or len(token) > MAX_TOKEN or not token.isascii():
            raise BadUnsubscribeToken("the unsubscribe link is incomplete or not one of ours")
        from cryptography.fernet import InvalidToken

        try:
            payload = json.loads(self.box.decrypt(token.encode("ascii")))
        except (InvalidToken, ValueError) as exc:
            raise BadUnsubscribeToken("the unsubscribe link is incomplete or not one of ours") from exc
        address = payload.get("a") if isinstance(payload, dict) and payload.get("use") == _USE else None
        if not isinstance(address, str) or "@" not in address:
            raise BadUnsubscribeToken("the unsubscribe link is not one of ours")
        return address


def one_click_headers(url: str) -> tuple[tuple[str, str], ...]:
    """RFC 8058: a mail client may POST ``List-Unsubscribe=One-Click`` to the HTTPS link."""
    return (("List-Unsubscribe", f"<{url}>"), ("List-Unsubscribe-Post", ONE_CLICK))


def with_footer(text: str, html_body: str | None, url: str) -> tuple[str, str | None]:
    """The bodies with the unsubscribe footer added, unless a template already shows the link."""
    if url not in text:
        text = f"{text.rstrip()}\n\n--\n{FOOTER_TEXT.format(url=url)}\n"
    if html_body is not None and html.escape(url) not in html_body and url not in html_body:
        footer = FOOTER_HTML.format(url=html.escape(url))
        closing = html_body.lower().rfind("</body>")
        html_body = (html_body[:closing] + footer + html_body[closing:] if closing >= 0
                     else html_body + footer)
    return text, html_body
