"""``/v1/unsubscribe``: the link in a marketing email, and the one-click POST of RFC 8058.

``GET`` shows a page in Portuguese with one button and changes nothing: mail
scanners and link previewers open every link in a message, and must not
unsubscribe anybody. ``POST`` with the body ``List-Unsubscribe=One-Click``
(what a mail client sends for its own button, and what the page's button
sends) puts the address on the suppression list for email, marks the
customer behind it opted out of email and withdraws their marketing consent
on every channel, with the link as proof. It needs no login: the token is
the address encrypted by despacho (``connectors.messaging.unsubscribe``), so
only the recipient of the email holds it. A forged or cut token is answered
400 and logged; a second click finds the address already suppressed and says
so again.
"""

from __future__ import annotations

import html
import logging
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse
from sqlmodel import Session

from api.crud import DbSession
from connectors.messaging.unsubscribe import MAX_TOKEN, ONE_CLICK, BadUnsubscribeToken, UnsubscribeLinks
from personal_data import mask_email
from store import consent, messaging, suppressions

router = APIRouter(prefix="/v1", tags=["privacy"])
log = logging.getLogger("despacho.api.unsubscribe")
PAGE_CSP = ("default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; "
            "frame-ancestors 'none'")
OneClick = Annotated[str | None, Form(alias="List-Unsubscribe", max_length=20)]
Token = Annotated[str, Query(alias="t", max_length=MAX_TOKEN, description="The token of the email's link")]

_PAGE = """<!doctype html>
<html lang="pt-BR"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<meta name="robots" content="noindex"><title>{title}</title>
<style>body{{font-family:sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem;line-height:1.5}}
button{{font-size:1rem;padding:.6rem 1.2rem}}</style></head>
<body><main><h1>{title}</h1>{body}</main></body></html>
"""
_CONFIRM = ("<p>Você deixará de receber nossas mensagens de marketing no e-mail <strong>{address}</strong>."
            "</p><form method=\"post\"><input type=\"hidden\" name=\"List-Unsubscribe\" value=\"One-Click\">"
            "<button type=\"submit\">Cancelar inscrição</button></form>")
_DONE = ("<p>Pronto: o e-mail <strong>{address}</strong> não receberá mais nossas mensagens. "
         "Também deixamos de enviar ofertas por SMS e WhatsApp.</p>"
         "<p>Para voltar a recebê-las, fale com a nossa equipe.</p>")
_ALREADY = "<p>O e-mail <strong>{address}</strong> já estava fora da nossa lista. Nada mais a fazer.</p>"
_BAD_LINK = ("<p>Este link de cancelamento está incompleto ou não foi enviado por nós. Use o link do "
             "e-mail que você recebeu, ou responda a ele pedindo o cancelamento.</p>")
_BAD_REQUEST = "<p>Pedido inválido. Use o botão da página de cancelamento.</p>"


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(_PAGE.format(title=title, body=body), status_code=status,
                        headers={"Content-Security-Policy": PAGE_CSP, "X-Robots-Tag": "noindex"})


def _links(request: Request) -> UnsubscribeLinks:
    ctx = request.app.state.ctx
    from store.secrets import SecretBox, load_ring

    return UnsubscribeLinks(SecretBox(load_ring(ctx.settings.secrets)), ctx.api.public_url)


def _address(request: Request, token: str) -> str | None:
    try:
        return _links(request).address_of(token)
    except BadUnsubscribeToken as exc:
        log.warning("unsubscribe refused: %s (from %s)", exc, request.client.host if request.client else "?")
        return None


@router.get("/unsubscribe", response_class=HTMLResponse, include_in_schema=False)
def unsubscribe_page(request: Request, t: Token) -> HTMLResponse:
    address = _address(request, t)
    if address is None:
        return _page("Link inválido", _BAD_LINK, 400)
    return _page("Cancelar inscrição", _CONFIRM.format(address=html.escape(address)))


@router.post("/unsubscribe", response_class=HTMLResponse, include_in_schema=False)
def unsubscribe(request: Request, session: DbSession, t: Token, click: OneClick = None) -> HTMLResponse:
    address = _address(request, t)
    if address is None:
        return _page("Link inválido", _BAD_LINK, 400)
    # RFC 8058: the one-click POST's body is the form field List-Unsubscribe=One-Click; nothing else
    if click != "One-Click":
        log.warning("unsubscribe of %s refused: the body is not %s", mask_email(address), ONE_CLICK)
        return _page("Pedido inválido", _BAD_REQUEST, 400)
    new = apply_unsubscribe(session, address)
    session.commit()
    return _page("Inscrição cancelada", (_DONE if new else _ALREADY).format(address=html.escape(address)))


def apply_unsubscribe(session: Session, address: str) -> bool:
    """Suppress ``address`` for email and withdraw its customer's consent; False when already suppressed."""
    _row, new = suppressions.suppress(session, address, "email", reason="unsubscribe link",
                                      source="email_unsubscribe")
    customer = messaging.customer_by_email(session, address)
    if customer is not None:
        messaging.mark_opted_out(session, customer, "email")
        consent.withdraw_all(session, customer.id, source="email_unsubscribe", actor="customer")
    log.info("unsubscribe of %s (new: %s, customer known: %s)", mask_email(address), new,
             customer is not None)
    return new
