"""The declared reason for reading a person's data: ``X-Access-Reason`` header or ``reason`` parameter.

Optional, but bounded and clean when given: it is stored in the access log and shown to the
data-protection officer, so it is one printable line of at most 200 characters (a longer one,
or one with control or bidi characters, is a 422 naming where it came from, not silently cut).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Query

from api.errors import InvalidRequest
from api.schemas.common import forbidden_character
from store.privacy.access import MAX_REASON

HEADER = "X-Access-Reason"


def access_reason(
    header: Annotated[str | None, Header(alias=HEADER, include_in_schema=True,
                                         description="Why the data is read (kept in the access log)")] = None,
    reason: Annotated[str | None, Query(description=f"Same as the {HEADER} header")] = None,
) -> str | None:
    for where, value in ((HEADER, header), ("reason", reason)):
        if value is None:
            continue
        text = value.strip()
        if len(text) > MAX_REASON:
            raise InvalidRequest(f"{where}: at most {MAX_REASON} characters", details={"field": where})
        problem = forbidden_character(text)
        if problem:
            raise InvalidRequest(f"{where}: {problem}", details={"field": where})
        if text:
            return text
    return None


AccessReason = Annotated[str | None, Depends(access_reason)]
