"""Provider webhook signatures, verified over the exact raw request bytes.

A missing signature is a failure, never a skip. Every comparison of a MAC is
constant-time. Nothing here parses the body before the signature checks out.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

# HighLevel's published webhook verification keys: public facts, overridable by
# GHL_WEBHOOK_PUBLIC_KEY (Ed25519) and GHL_WEBHOOK_LEGACY_PUBLIC_KEY (RSA).
GHL_ED25519_PUBLIC_KEY = """-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAi2HR1srL4o18O8BRa7gVJY7G7bupbN3H9AwJrHCDiOg=
-----END PUBLIC KEY-----
"""
GHL_RSA_PUBLIC_KEY = """-----BEGIN PUBLIC KEY-----
MIICIjANBgkqhkiG9w0BAQEFAAOCAg8AMIICCgKCAgEAokvo/r9tVgcfZ5DysOSC
Frm602qYV0MaAiNnX9O8KxMbiyRKWeL9JpCpVpt4XHIcBOK4u3cLSqJGOLaPuXw6
dO0t6Q/ZVdAV5Phz+ZtzPL16iCGeK9po6D6JHBpbi989mmzMryUnQJezlYJ3DVfB
csedpinheNnyYeFXolrJvcsjDtfAeRx5ByHQmTnSdFUzuAnC9/GepgLT9SM4nCpv
uxmZMxrJt5Rw+VUaQ9B8JSvbMPpez4peKaJPZHBbU3OdeCVx5klVXXZQGNHOs8gF
3kvoV5rTnXV0IknLBXlcKKAQLZcY/Q9rG6Ifi9c+5vqlvHPCUJFT5XUGG5RKgOKU
J062fRtN+rLYZUV+BjafxQauvC8wSWeYja63VSUruvmNj8xkx2zE/Juc+yjLjTXp
IocmaiFeAO6fUtNjDeFVkhf5LNb59vECyrHD2SQIrhgXpO4Q3dVNA5rw576PwTzN
h/AMfHKIjE4xQA1SZuYJmNnmVZLIZBlQAF9Ntd03rfadZ+yDiOXCCs9FkHibELhC
HULgCsnuDJHcrGNd5/Ddm5hxGQ0ASitgHeMZ0kcIOwKDOzOU53lDza6/Y09T7sYJ
PQe7z0cvj7aE4B+Ax1ZoZGPzpJlZtGXCsu9aTEGEnKzmsFqwcSsnw3JB31IGKAyk
T1hhTiaCeIY/OwwwNUY2yvcCAwEAAQ==
-----END PUBLIC KEY-----
"""


class SignatureError(Exception):
    """The request is not provably from the provider; answer 401 and store nothing."""


class KeyError_(ValueError):
    """A configured key cannot be loaded: a start-up error, not a request error."""


def _b64(value: str) -> bytes:
    try:
        return base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError("signature is not valid base64") from None


def load_ed25519_key(text: str) -> ed25519.Ed25519PublicKey:
    """PEM (SubjectPublicKeyInfo) or base64 of the raw 32-byte key."""
    text = text.strip()
    try:
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_public_key(text.encode())
        else:
            raw = base64.b64decode(text, validate=True)
            key = (
                ed25519.Ed25519PublicKey.from_public_bytes(raw)
                if len(raw) == 32
                else serialization.load_der_public_key(raw)
            )
    except (ValueError, binascii.Error, TypeError) as err:
        raise KeyError_(f"not an Ed25519 public key (PEM or base64 raw 32 bytes): {err}") from None
    if not isinstance(key, ed25519.Ed25519PublicKey):
        raise KeyError_("the key is not an Ed25519 key")
    return key


def load_rsa_key(text: str) -> rsa.RSAPublicKey:
    try:
        key = serialization.load_pem_public_key(text.strip().encode())
    except (ValueError, TypeError) as err:
        raise KeyError_(f"not an RSA public key in PEM: {err}") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise KeyError_("the key is not an RSA key")
    return key


def load_ecdsa_key(text: str) -> ec.EllipticCurvePublicKey:
    """SendGrid shows its key as base64 DER without PEM armour; accept PEM too."""
    text = text.strip()
    try:
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_public_key(text.encode())
        else:
            key = serialization.load_der_public_key(base64.b64decode(text, validate=True))
    except (ValueError, binascii.Error, TypeError) as err:
        raise KeyError_(f"not an ECDSA public key (base64 DER or PEM): {err}") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise KeyError_("the key is not an ECDSA P-256 key")
    return key


@dataclass(frozen=True)
class GhlKeys:
    ed25519: Sequence[ed25519.Ed25519PublicKey]
    rsa: Sequence[rsa.RSAPublicKey]
    allow_legacy: bool = True


def verify_ghl(raw: bytes, ghl_signature: str | None, legacy_signature: str | None, keys: GhlKeys) -> str:
    """Returns the scheme that verified. As HighLevel's SDK does: when X-GHL-Signature is
    present it alone decides (no fallback); only without it is X-WH-Signature tried."""
    if ghl_signature:
        sig = _b64(ghl_signature)
        for key in keys.ed25519:
            try:
                key.verify(sig, raw)
                return "ed25519"
            except InvalidSignature:
                continue
        raise SignatureError("X-GHL-Signature does not match the body")
    if legacy_signature:
        if not keys.allow_legacy:
            raise SignatureError(
                "legacy X-WH-Signature is disabled; HighLevel now signs with X-GHL-Signature"
            )
        sig = _b64(legacy_signature)
        for rkey in keys.rsa:
            try:
                rkey.verify(sig, raw, padding.PKCS1v15(), hashes.SHA256())
                return "rsa"
            except InvalidSignature:
                continue
        raise SignatureError("X-WH-Signature does not match the body")
    raise SignatureError("missing X-GHL-Signature header")


def _port_variants(url: str) -> list[str]:
    """Twilio signs with or without the default port depending on the product: accept both."""
    parts = urlsplit(url)
    default = {"https": 443, "http": 80}.get(parts.scheme)
    host = parts.hostname or ""
    if parts.port is None:
        with_port = parts._replace(netloc=f"{parts.netloc}:{default}") if default else parts
        return [url, urlunsplit(with_port)]
    if parts.port == default:
        without = parts._replace(netloc=parts.netloc.rsplit(":", 1)[0] if host else parts.netloc)
        return [url, urlunsplit(without)]
    return [url]


def twilio_signature(url: str, params: Iterable[tuple[str, str]], auth_token: str) -> str:
    signed = url + "".join(name + value for name, value in sorted(params))
    digest = hmac.new(auth_token.encode(), signed.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def verify_twilio(
    url: str, params: Iterable[tuple[str, str]], signature: str | None, auth_token: str
) -> None:
    """url is the PUBLIC url Twilio called (behind a proxy the request URL differs)."""
    if not signature:
        raise SignatureError("missing X-Twilio-Signature header")
    pairs = list(params)
    for candidate in _port_variants(url):
        if hmac.compare_digest(twilio_signature(candidate, pairs, auth_token), signature.strip()):
            return
    raise SignatureError(
        "X-Twilio-Signature does not match; check TWILIO_AUTH_TOKEN and WEBHOOK_PUBLIC_BASE_URL"
    )


def verify_sendgrid(
    raw: bytes,
    signature: str | None,
    timestamp: str | None,
    key: ec.EllipticCurvePublicKey,
    *,
    now: float,
    tolerance_s: float = 300.0,
) -> None:
    """ECDSA P-256/SHA-256 over timestamp + raw body; a stale timestamp is a replay."""
    if not signature or not timestamp:
        raise SignatureError("missing X-Twilio-Email-Event-Webhook-Signature or -Timestamp header")
    try:
        key.verify(_b64(signature), timestamp.encode() + raw, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise SignatureError("SendGrid signature does not match the body") from None
    try:
        sent = float(timestamp)
    except ValueError:
        raise SignatureError("SendGrid timestamp is not a number") from None
    if abs(now - sent) > tolerance_s:
        raise SignatureError(f"SendGrid timestamp is {abs(now - sent):.0f}s away from now; refusing a replay")
