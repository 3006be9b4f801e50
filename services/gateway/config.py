"""Everything the gateway reads from its environment, checked once at start-up.

Webhook keys are loaded here, not per request: a key that does not parse stops
the process with one line naming the variable, instead of turning every
delivery into a 401 nobody looks at.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec

from services.gateway import signatures
from services.gateway.signatures import GhlKeys
from shared import config, transport
from shared.config import ConfigError

MIB = 1024 * 1024
K = TypeVar("K")


def _split_keys(raw: str) -> list[str]:
    """Several keys (rotation) are separated by blank lines or commas. Env files often
    carry a PEM on one line with literal \\n escapes; those are newlines too."""
    text = raw.replace("\\n", "\n").strip()
    return [part.strip() for part in re.split(r",|\n\s*\n", text) if part.strip()]


def _load_keys(name: str, raw: str, load: Callable[[str], K]) -> list[K]:
    parts = _split_keys(raw)
    if not parts:
        raise ConfigError(f"{name} is set but holds no key")
    keys = []
    for i, part in enumerate(parts, start=1):
        try:
            keys.append(load(part))
        except signatures.KeyError_ as err:
            where = f" (key {i} of {len(parts)})" if len(parts) > 1 else ""
            # One line, whatever cryptography's message looks like.
            raise ConfigError(f"{name}{where}: {' '.join(str(err).split())}") from None
    return keys


def ghl_keys_from(ed25519_pem: str, rsa_pem: str, allow_legacy: bool) -> GhlKeys:
    return GhlKeys(
        ed25519=tuple(_load_keys("GHL_WEBHOOK_PUBLIC_KEY", ed25519_pem, signatures.load_ed25519_key)),
        rsa=tuple(_load_keys("GHL_WEBHOOK_LEGACY_PUBLIC_KEY", rsa_pem, signatures.load_rsa_key)),
        allow_legacy=allow_legacy,
    )


def _published_ghl_keys() -> GhlKeys:
    return ghl_keys_from(signatures.GHL_ED25519_PUBLIC_KEY, signatures.GHL_RSA_PUBLIC_KEY, True)


def public_base_url(raw: str) -> str:
    """The scheme://host[:port][/prefix] providers call; Twilio signs that URL, not ours."""
    if not raw:
        return ""
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"WEBHOOK_PUBLIC_BASE_URL={raw!r} must look like https://hooks.example.com")
    if parts.query or parts.fragment:
        raise ConfigError("WEBHOOK_PUBLIC_BASE_URL must not carry a query or fragment")
    return raw.rstrip("/")


@dataclass(frozen=True)
class Config:
    port: int = config.GATEWAY_DEFAULT_PORT
    # All interfaces: in a pod the kubelet's probes and the Service reach us from outside.
    host: str = "0.0.0.0"  # noqa: S104
    ingest_addr: str = f"localhost:{config.DEFAULT_PORTS['ingest']}"
    coordinator_addr: str = f"localhost:{config.DEFAULT_PORTS['coordinator']}"
    # /readyz answers within this, whatever state ingest is in.
    ready_timeout_s: float = 1.0
    # After SIGTERM, open requests get this long before uvicorn closes them.
    grace_s: float = 10.0
    # Webhooks: a provider waits for our answer (HighLevel and SendGrid give up after
    # seconds), so ingest gets a short deadline and a miss becomes "deliver again".
    ingest_timeout_s: float = 5.0
    max_body_bytes: int = 2 * MIB
    ghl_keys: GhlKeys = field(default_factory=_published_ghl_keys)
    # HighLevel re-sends the same body (same timestamp) on 429 retries for about 70 min.
    ghl_max_age_s: float = 7200.0
    twilio_auth_token: str = field(default="", repr=False)
    public_base_url: str = ""
    sendgrid_key: ec.EllipticCurvePublicKey | None = None
    sendgrid_max_age_s: float = 300.0
    # The channel to ingest; the gateway's certificate names it "gateway".
    tls: transport.MutualTls | None = field(default=None, repr=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Config:
        sendgrid_raw = config.text(env, "SENDGRID_WEBHOOK_PUBLIC_KEY")
        sendgrid: Sequence[ec.EllipticCurvePublicKey] = (
            _load_keys("SENDGRID_WEBHOOK_PUBLIC_KEY", sendgrid_raw, signatures.load_ecdsa_key)
            if sendgrid_raw
            else ()
        )
        if len(sendgrid) > 1:
            raise ConfigError("SENDGRID_WEBHOOK_PUBLIC_KEY holds more than one key; SendGrid signs with one")
        return cls(
            port=config.integer(env, "GATEWAY_PORT", config.GATEWAY_DEFAULT_PORT),
            host=config.text(env, "GATEWAY_HOST", cls.host),
            ingest_addr=config.text(env, "GATEWAY_INGEST_ADDR") or config.peer_addr(env, "ingest"),
            coordinator_addr=config.peer_addr(env, "coordinator"),
            ready_timeout_s=config.number(env, "GATEWAY_READY_TIMEOUT_S", 1.0, minimum=0.05),
            grace_s=config.number(env, "GATEWAY_GRACE_S", 10.0),
            ingest_timeout_s=config.number(env, "GATEWAY_INGEST_TIMEOUT_S", 5.0, minimum=0.05),
            # At most 3 MiB: the events travel on to ingest in one gRPC message, and gRPC
            # refuses messages over 4 MiB; a bigger body could never be stored.
            max_body_bytes=config.integer(
                env, "GATEWAY_MAX_BODY_BYTES", 2 * MIB, minimum=1024, maximum=3 * MIB
            ),
            ghl_keys=ghl_keys_from(
                config.text(env, "GHL_WEBHOOK_PUBLIC_KEY", signatures.GHL_ED25519_PUBLIC_KEY),
                config.text(env, "GHL_WEBHOOK_LEGACY_PUBLIC_KEY", signatures.GHL_RSA_PUBLIC_KEY),
                config.boolean(env, "GHL_WEBHOOK_ALLOW_LEGACY", True),
            ),
            ghl_max_age_s=config.number(env, "GHL_WEBHOOK_MAX_AGE_S", 7200.0, minimum=1.0),
            twilio_auth_token=config.text(env, "TWILIO_AUTH_TOKEN"),
            public_base_url=public_base_url(config.text(env, "WEBHOOK_PUBLIC_BASE_URL")),
            sendgrid_key=sendgrid[0] if sendgrid else None,
            sendgrid_max_age_s=config.number(env, "SENDGRID_WEBHOOK_MAX_AGE_S", 300.0, minimum=1.0),
            tls=transport.from_env(env),
        )
