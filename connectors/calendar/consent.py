"""The OAuth installed-app flow: a person consents in a browser, Google redirects to a loopback port.

``run_consent`` returns the grant (account, refresh token, calendars the account can use).
Google sends a refresh token only when it asks for consent, so the flow always asks
(``prompt=consent``, ``access_type=offline``): connecting again replaces a revoked grant.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from errors import ConnectorError
from store.calendar_connections import Grant

if TYPE_CHECKING:
    from connectors.calendar.settings import CalendarSettings

SCOPES = ["https://www.googleapis.com/auth/calendar"]
MAX_CALENDARS = 500


class ConsentFailed(ConnectorError):
    """The person did not consent, or Google did not hand out a usable grant."""


def run_consent(settings: CalendarSettings, *, port: int, open_browser: bool, timeout: int, prompt: str,
                done: str) -> Grant:
    from google_auth_oauthlib.flow import InstalledAppFlow

    if settings.client_secrets_file is None:
        raise ConsentFailed("set connectors.calendar.client_secrets_file to the OAuth client JSON "
                            "(Google Cloud console > Credentials > OAuth client ID > Desktop app)")
    try:
        flow = InstalledAppFlow.from_client_secrets_file(str(settings.client_secrets_file), scopes=SCOPES)
    except (OSError, ValueError) as exc:
        raise ConsentFailed(f"connectors.calendar.client_secrets_file: {exc}") from exc
    credentials = _wait_for_consent(flow, port, open_browser, timeout, prompt, done)
    if not credentials.refresh_token:
        raise ConsentFailed("Google did not send a refresh token: remove despacho's access in the Google "
                            "account (Security > Third-party access) and connect again")
    account, calendars = describe_account(settings, credentials)
    return Grant(account=account, refresh_token=credentials.refresh_token, calendars=calendars)


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
    from googleapiclient.errors import HttpError

    from connectors.calendar.api import CalendarApi

    api = CalendarApi(settings, credentials)
    try:
        primary = api.service.calendars().get(calendarId="primary").execute()
        listed = api.service.calendarList().list(minAccessRole="writer", maxResults=250).execute()
    except HttpError as exc:
        raise ConsentFailed(f"the grant works but the calendars could not be read: {exc}") from exc
    calendars = [str(item["id"]) for item in listed.get("items", [])][:MAX_CALENDARS]
    return str(primary["id"]), calendars
