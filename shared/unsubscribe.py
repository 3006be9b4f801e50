"""One-click unsubscribe tokens (RFC 8058): the coordinator puts one in every marketing
email, the gateway verifies it.

A token names lead + channel + location and carries an HMAC-SHA256 over them with a key
only our processes hold, so it can be neither forged nor guessed from another token
(changing any byte of the payload changes the whole MAC). It has no expiry: an
unsubscribe link must work for as long as the email exists.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from dataclasses import dataclass

_VERSION = b"\x01"
_MAC_BYTES = 32


@dataclass(frozen=True)
class Unsubscribe:
    lead_id: uuid.UUID
    # common.v1.Channel number.
    channel: int
    location_id: str


class BadToken(ValueError):
    pass


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as err:
        raise BadToken("not base64url") from err


def sign(u: Unsubscribe, key: str) -> str:
    payload = _VERSION + u.lead_id.bytes + bytes([u.channel]) + u.location_id.encode("utf-8")
    mac = hmac.new(key.encode("utf-8"), payload, hashlib.sha256).digest()
    return f"{_b64(payload)}.{_b64(mac)}"


def verify(token: str, key: str) -> Unsubscribe:
    """The unsubscribe the token names; BadToken for anything we did not sign."""
    if not key:
        raise BadToken("no signing key configured")
    head, _, tail = token.partition(".")
    if not head or not tail or len(token) > 512:
        raise BadToken("malformed")
    payload, mac = _unb64(head), _unb64(tail)
    expected = hmac.new(key.encode("utf-8"), payload, hashlib.sha256).digest()
    if len(mac) != _MAC_BYTES or not hmac.compare_digest(mac, expected):
        raise BadToken("signature does not match")
    if len(payload) < 18 or payload[:1] != _VERSION:
        raise BadToken("unknown version")
    try:
        location = payload[18:].decode("utf-8")
    except UnicodeDecodeError as err:
        raise BadToken("location is not UTF-8") from err
    return Unsubscribe(uuid.UUID(bytes=payload[1:17]), payload[17], location)
