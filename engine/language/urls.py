"""The part of a URL param that is known before rendering, for checks at ``despacho validate``.

A URL such as ``http://10.0.0.5/orders/{{ data.order.id }}`` has a static
scheme and host even though its path is a template: its host can be judged
now, against the same rules ``http.request`` applies when it runs.
"""

from __future__ import annotations

import re
from typing import Any

_TEMPLATE_START = re.compile(r"\{[{%#]")
# scheme://authority, ended by the first / ? or # (the authority is then complete)
_ORIGIN = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*[/?#]")


def static_url(value: Any) -> str | None:
    """The URL up to where a template starts, when scheme and host are all static; else ``None``."""
    if not isinstance(value, str):
        return None
    start = _TEMPLATE_START.search(value)
    if start is None:
        return value
    origin = _ORIGIN.match(value[:start.start()])
    return origin.group(0) if origin else None
