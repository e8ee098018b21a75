"""The OAuth installed-app flow: a person consents in a browser, Google redirects to a loopback port.

``run_consent`` returns the grant (account, refresh token, calendars the account can use).
Google sends a refresh token only when it asks for consent, so the flow always asks
(``prompt=consent``, ``access_type=offline``): connecting again replaces a revoked grant.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from connectors.calendar.auth import SCOPES
from errors import ConnectorError, PermanentError
from store.calendar_connections import NewGrant

if TYPE_CHECKING:
    from connectors.calendar.settings import CalendarSettings

MAX_CALENDARS = 500


class ConsentFailed(ConnectorError):
    """The person did not consent, or Google did not hand out a usable grant."""


def run_consent(settings: CalendarSettings, *, port: int, open_browser: bool, timeout: int, prompt: str,
                done: str) -> NewGrant:
    from google_auth_oauthlib.flow import InstalledAppFlow

    if settings.client_secrets_file is None:
        raise ConsentFailed("set connectors.calendar.client_secrets_file to the OAuth client JSON "
                            "(Google Cloud console > Credentials > OAuth client ID > Desktop app)")
    try:
        flow = InstalledAppFlow.from_client_secrets_file(str(settings.client_secrets_file), scopes=SCOPES)
    except (OSError, ValueError) as exc:
        raise ConsentFailed(f"connectors.calendar.client_secrets_file: {exc}") from exc
    # the code is exchanged where refreshes will go later: one setting names Google's token endpoint
    flow.client_config["token_uri"] = settings.token_uri
    credentials = _wait_for_consent(flow, port, open_browser, timeout, prompt, done)
    if not credentials.refresh_token:
        raise ConsentFailed("Google did not send a refresh token: remove despacho's access in the Google "
                            "account (Security > Third-party access) and connect again")
    account, calendars = describe_account(settings, credentials)
    return NewGrant("oauth", account, credentials.refresh_token, calendars)


def delegated_grant(settings: CalendarSettings, account: str) -> NewGrant:
    """A service account acting as ``account``; proven by reading that account's calendars."""
    from google.auth.exceptions import GoogleAuthError

    from connectors.calendar.auth import Grant, build_credentials

    if settings.service_account_key_file is None:
        raise ConsentFailed("set connectors.calendar.service_account_key_file to the service account's "
                            "key JSON")
    try:
        credentials = build_credentials(settings, Grant("", None, "service_account", account, None))
        primary, calendars = describe_account(settings, credentials)
    except PermanentError as exc:
        raise ConsentFailed(str(exc)) from exc
    except GoogleAuthError as exc:
        raise ConsentFailed(f"Google refused to let the service account act as {account}: {exc} (is "
                            "domain-wide delegation granted for the calendar scope?)") from exc
    return NewGrant("service_account", primary, None, calendars)


def _wait_for_consent(flow: Any, port: int, open_browser: bool, timeout: int, prompt: str, done: str) -> Any:
    from oauthlib.oauth2.rfc6749.errors import OAuth2Error

    try:
        return flow.run_local_server(host="127.0.0.1", port=port, open_browser=open_browser,
                                     authorization_prompt_message=prompt, success_message=done,
                                     timeout_seconds=timeout, access_type="offline", prompt="consent")
    except OAuth2Error as exc:
        raise ConsentFailed(f"Google refused the consent: {exc.error}"
                            + (f" ({exc.description})" if exc.description else "")) from exc
    except (AttributeError, ValueError) as exc:
        # no redirect arrived before the timeout: the flow has no authorization response to parse
        raise ConsentFailed(f"no consent arrived within {timeout} s: run connect again and open the "
                            "address it prints") from exc


def describe_account(settings: CalendarSettings, credentials: Any) -> tuple[str, list[str]]:
    """The account's address (its primary calendar's id) and the calendars it may write to."""
    from connectors.calendar.api import CalendarApi

    api = CalendarApi(settings, credentials)
    try:
        account = api.primary_calendar_id()
        calendars = api.writable_calendars(limit=MAX_CALENDARS)
    except ConnectorError as exc:
        raise ConsentFailed(f"the grant works but the account's calendars could not be read: {exc}") from exc
    return account, calendars
