"""What an email header may hold: one address per item, and never a line break.

Recipients and subjects are rendered from event data, so a value such as
``maria@example.com\\r\\nBcc: attacker@example.net`` must not become a
second header, and ``maria@example.com, attacker@example.net`` must not
become a second recipient. Every value is checked here, before the message
is written: control characters (CR, LF, NUL, ...) and Unicode line
separators are refused anywhere, and an address item must parse, with no
defect, to exactly one address. A refusal is a ``PermanentError`` with code
``bad_header``: the data is wrong, and retrying cannot fix it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from email.errors import NonASCIILocalPartDefect, ObsoleteHeaderDefect
from email.policy import default as default_policy
from email.utils import formataddr, quote
from functools import lru_cache

from errors import PermanentError

BAD_HEADER = "bad_header"
ADDRESS_FIELDS = ("to", "cc", "bcc", "reply_to")  # an email's params holding addresses
# Cc: C0/C1 controls (CR, LF, NUL, TAB, NEL...); Zl/Zp: U+2028/U+2029, which str.splitlines() breaks on
_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Zl", "Zp"})
# an address with a non-ASCII local part is fine: SMTPUTF8 carries it (see smtp._sendmail); obsolete
# syntax alone (a period in a name: "Dr. Silva <...>") is harmless, as the header is written anew
_TOLERATED_DEFECTS = (NonASCIILocalPartDefect, ObsoleteHeaderDefect)
# The common shapes, ``a.b@example.com`` and ``Maria Silva <a.b@example.com>`` (words without RFC 5322
# specials, single spaces), read the same with this as with the header parser, in 1 µs instead of 100.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_ADDR = rf"{_ATOM}(?:\.{_ATOM})*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
_WORD = r"[^\s\x00-\x1f\x7f()<>\[\]:;@\\,.\"]+"
_SIMPLE = re.compile(rf"(?:(?P<name>{_WORD}(?: {_WORD})*) <(?P<bracketed>{_ADDR})>|(?P<bare>{_ADDR}))")


@dataclass(frozen=True)
class EmailAddress:
    """One parsed address (``email.headerregistry.Address`` is not hashable, and these are cached)."""

    display_name: str
    addr_spec: str

    @property
    def domain(self) -> str:
        return self.addr_spec.rpartition("@")[2]

    def __str__(self) -> str:
        """Readable, unencoded (the outbox's JSON); a name with a special stays quoted, so it reads
        back as one address. Headers use ``header_address``."""
        if not self.display_name:
            return self.addr_spec
        if any(char in self.display_name for char in '()<>@,;:\\".[]'):
            return f'"{quote(self.display_name)}" <{self.addr_spec}>'
        return f"{self.display_name} <{self.addr_spec}>"


def bad_header(field: str, value: object, why: str) -> PermanentError:
    # !r keeps a CR/LF visible and the log line whole
    return PermanentError(f"{field}: {value!r} {why}", code=BAD_HEADER)


def check_text(value: str, field: str) -> str:
    """``value`` unchanged when it holds no control character or line separator; else ``bad_header``."""
    for char in value:
        if unicodedata.category(char) in _FORBIDDEN_CATEGORIES:
            raise bad_header(field, value, f"contains the control character U+{ord(char):04X} "
                                           "(a header value must be one line)")
    return value


def parse_address(value: str, field: str) -> EmailAddress:
    """Exactly one address, ``maria@example.com`` or ``Maria Silva <maria@example.com>``."""
    if not isinstance(value, str):
        raise bad_header(field, value, "is not a text address")
    check_text(value, field)
    return _parse(value.strip(), field)


def _parse(value: str, field: str) -> EmailAddress:
    simple = _SIMPLE.fullmatch(value)
    if simple is not None:
        return EmailAddress(simple["name"] or "", simple["bracketed"] or simple["bare"])
    return _parse_strictly(value, field)


@lru_cache(maxsize=4096)
def _parse_strictly(value: str, field: str) -> EmailAddress:
    # parsed as a To header whatever the field: the name only picks the header's grammar
    header = default_policy.header_factory("To", value)
    addresses = header.addresses
    if len(header.groups) != 1 or header.groups[0].display_name is not None or len(addresses) != 1:
        count = len(addresses)
        raise bad_header(field, value, f"is {count} addresses, not one (give one address per list item)"
                         if count > 1 else "is not an address")
    defects = [d for d in header.defects if not isinstance(d, _TOLERATED_DEFECTS)]
    address = addresses[0]
    if defects or not address.username or not address.domain:
        raise bad_header(field, value, "is not a valid address (expected name@domain or Name <name@domain>)")
    return EmailAddress(address.display_name, address.addr_spec)


def parse_addresses(value: str | Sequence[str] | None, field: str) -> tuple[EmailAddress, ...]:
    """A list of addresses, one per item; a single string is one item, never split on commas."""
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else list(value)
    return tuple(parse_address(item, f"{field}[{index}]" if len(items) > 1 else field)
                 for index, item in enumerate(items) if not (isinstance(item, str) and not item.strip()))


@lru_cache(maxsize=1024)
def header_address(address: EmailAddress) -> str:
    """``Name <addr>`` for a header; a non-ASCII name as an RFC 2047 encoded word."""
    return formataddr((address.display_name, address.addr_spec), "utf-8")
