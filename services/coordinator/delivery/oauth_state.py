"""The `state` of a HighLevel OAuth install: without it, anyone could send a person (or
a script) to our callback with an authorization code of their own choosing and bind an
install we never started.

A state is a random nonce and an expiry, HMAC-SHA256-signed with HIGHLEVEL_OAUTH_STATE_KEY,
so only our coordinators can make one and a forged or altered one fails here, before
anything is read or written. Single use is the database's job (oauth_states): the nonce is
recorded with the code it was first used with.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

_VERSION = b"\x01"
_NONCE_BYTES = 16
_MAC_BYTES = 32
MAX_LEN = 256


class BadState(ValueError):
    """Why a state was refused, in words for the person at the callback page."""


@dataclass(frozen=True)
class State:
    nonce: str
    expire_time: datetime


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as err:
        raise BadState("the install link's state is malformed") from err


def _mac(payload: bytes, key: str) -> bytes:
    return hmac.new(key.encode("utf-8"), payload, hashlib.sha256).digest()


def issue(key: str, expire_time: datetime) -> tuple[str, State]:
    nonce = secrets.token_bytes(_NONCE_BYTES)
    seconds = int(expire_time.timestamp())
    payload = _VERSION + nonce + seconds.to_bytes(8, "big")
    token = f"{_b64(payload)}.{_b64(_mac(payload, key))}"
    return token, State(nonce.hex(), datetime.fromtimestamp(seconds, UTC))


def verify(token: str, key: str, now: datetime) -> State:
    """The state we signed, still valid at `now`; BadState otherwise."""
    if not token:
        raise BadState("the callback carries no state: start the install from our install link")
    head, _, tail = token.partition(".")
    if not head or not tail or len(token) > MAX_LEN:
        raise BadState("the install link's state is malformed")
    payload, mac = _unb64(head), _unb64(tail)
    if len(mac) != _MAC_BYTES or not hmac.compare_digest(mac, _mac(payload, key)):
        raise BadState("the install link's state was not issued by us")
    if len(payload) != 1 + _NONCE_BYTES + 8 or payload[:1] != _VERSION:
        raise BadState("the install link's state has an unknown version")
    expire = datetime.fromtimestamp(int.from_bytes(payload[1 + _NONCE_BYTES :], "big"), UTC)
    if expire <= now:
        raise BadState(f"the install link expired at {expire:%Y-%m-%d %H:%M} UTC: start the install again")
    return State(payload[1 : 1 + _NONCE_BYTES].hex(), expire)
