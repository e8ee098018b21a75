"""Access tokens: short-lived JWTs signed with the current key, checked strictly.

Only HS256 is accepted (an allow-list, so ``alg: none`` and algorithm
confusion are refused before any signature check); ``kid`` names the key so
old tokens keep verifying while a new key signs; ``iss``, ``aud``, ``exp``,
``iat``, ``jti`` and ``sub`` are required.

A client sends the same token for its whole life (minutes, hundreds of
requests), so a token that passed every check is remembered: the next
request with it costs a dictionary look-up and the expiry check, the only
check whose answer changes with time. Only tokens that verified are kept, and
a bounded number of them.
"""

from __future__ import annotations

import secrets
import time
import uuid
from dataclasses import dataclass

import jwt

from api.errors import Unauthenticated
from store.keyring import KeyRing

ALGORITHMS = ("HS256",)
REQUIRED_CLAIMS = ["iss", "aud", "exp", "iat", "jti", "sub"]
MIN_KEY_BYTES = 32
LEEWAY_SECONDS = 5  # clock skew between API processes
MAX_REMEMBERED = 10_000  # verified tokens kept; past this the oldest are forgotten


@dataclass(frozen=True)
class Claims:
    client_id: str
    scopes: frozenset[str]
    jti: str
    expires_at: int


def new_signing_key() -> str:
    return secrets.token_urlsafe(48)


class TokenService:
    def __init__(self, ring: KeyRing, *, issuer: str, audience: str, ttl: int) -> None:
        short = [kid for kid, key in ring.keys if len(key.encode()) < MIN_KEY_BYTES]
        if short:
            raise ValueError(f"JWT key(s) {', '.join(short)} shorter than {MIN_KEY_BYTES} bytes")
        self.ring, self.issuer, self.audience, self.ttl = ring, issuer, audience, ttl
        self._verified: dict[str, tuple[KeyRing, Claims]] = {}

    def issue(self, client_id: str, scopes: frozenset[str], now: float | None = None) -> str:
        issued = int(now if now is not None else time.time())
        kid, key = self.ring.current
        claims = {"iss": self.issuer, "aud": self.audience, "sub": client_id, "iat": issued,
                  "exp": issued + self.ttl, "jti": uuid.uuid4().hex, "scope": " ".join(sorted(scopes))}
        return jwt.encode(claims, key, algorithm=ALGORITHMS[0], headers={"kid": kid})

    def verify(self, token: str) -> Claims:
        remembered = self._verified.get(token)
        if remembered is not None and remembered[0] is self.ring:
            if time.time() <= remembered[1].expires_at + LEEWAY_SECONDS:  # PyJWT's own expiry test
                return remembered[1]
            self._verified.pop(token, None)  # expired: the full check below says so
        claims = self._verify(token)
        if len(self._verified) >= MAX_REMEMBERED:
            self._verified.pop(next(iter(self._verified)), None)
        self._verified[token] = (self.ring, claims)
        return claims

    def _verify(self, token: str) -> Claims:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise Unauthenticated("the token is not a JWT") from exc
        if header.get("alg") not in ALGORITHMS:
            raise Unauthenticated(f"algorithm '{header.get('alg')}' is not accepted")
        key = self.ring.get(str(header.get("kid", "")))
        if key is None:
            raise Unauthenticated("the token's key id is unknown (expired key, or not ours)")
        try:
            claims = jwt.decode(token, key, algorithms=list(ALGORITHMS), audience=self.audience,
                                issuer=self.issuer, leeway=LEEWAY_SECONDS,
                                options={"require": REQUIRED_CLAIMS})
        except jwt.ExpiredSignatureError as exc:
            raise Unauthenticated("the token has expired", code="token_expired") from exc
        except jwt.InvalidAudienceError as exc:
            raise Unauthenticated("the token is for another audience") from exc
        except jwt.InvalidIssuerError as exc:
            raise Unauthenticated("the token is from another issuer") from exc
        except jwt.InvalidSignatureError as exc:
            raise Unauthenticated("the token's signature does not verify") from exc
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"invalid token: {exc}") from exc
        scope = claims.get("scope", "")
        if not isinstance(scope, str) or not isinstance(claims["sub"], str):
            raise Unauthenticated("invalid token: malformed claims")
        return Claims(claims["sub"], frozenset(scope.split()), str(claims["jti"]), int(claims["exp"]))
