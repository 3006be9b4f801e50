"""What webhook tests share: the providers' signing, sample payloads, the real gateway server."""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import json
import socket
import time
import urllib.parse
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from leadengine.ingest.v1 import ingest_service_pb2 as ingest_pb

from services.gateway import signatures
from services.gateway.config import Config
from services.gateway.serving import running_gateway
from services.gateway.signatures import GhlKeys

VECTORS = Path(__file__).resolve().parent / "vectors"
GHL_CONTACT = json.loads((VECTORS / "ghl_contact_create.json").read_text())["payload"]
SENDGRID_BATCH = json.loads((VECTORS / "sendgrid_events.json").read_text())["payload"]
TWILIO_STATUS = json.loads((VECTORS / "twilio_status_callback.json").read_text())["payload"]
TWILIO_INBOUND = next(
    v
    for v in json.loads((VECTORS / "twilio_signature.json").read_text())["vectors"]
    if v["name"] == "made_up_token_inbound_sms"
)
PUBLIC_BASE = "https://hooks.example.com"


# --- keys and signing, as each provider does it ----------------------------------------------------


@dataclasses.dataclass
class Signer:
    ghl: ed25519.Ed25519PrivateKey = dataclasses.field(default_factory=ed25519.Ed25519PrivateKey.generate)
    sendgrid: ec.EllipticCurvePrivateKey = dataclasses.field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    twilio_token: str = TWILIO_INBOUND["auth_token"]

    def config(self, ingest_addr: str, **overrides: Any) -> Config:
        cfg = Config(
            port=0,
            host="127.0.0.1",
            ingest_addr=ingest_addr,
            ready_timeout_s=1.0,
            grace_s=1.0,
            ghl_keys=GhlKeys(ed25519=(self.ghl.public_key(),), rsa=(), allow_legacy=False),
            twilio_auth_token=self.twilio_token,
            public_base_url=PUBLIC_BASE,
            sendgrid_key=self.sendgrid.public_key(),
        )
        return dataclasses.replace(cfg, **overrides)

    def ghl_headers(self, raw: bytes) -> dict[str, str]:
        return {
            "X-GHL-Signature": base64.b64encode(self.ghl.sign(raw)).decode(),
            "Content-Type": "application/json",
        }

    def sendgrid_headers(self, raw: bytes, stamp: int | None = None) -> dict[str, str]:
        ts = str(int(time.time()) if stamp is None else stamp)
        sig = self.sendgrid.sign(ts.encode() + raw, ec.ECDSA(hashes.SHA256()))
        return {
            "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(sig).decode(),
            "X-Twilio-Email-Event-Webhook-Timestamp": ts,
            "Content-Type": "application/json",
        }

    def twilio_headers(self, url: str, params: Sequence[tuple[str, str]]) -> dict[str, str]:
        return {
            "X-Twilio-Signature": signatures.twilio_signature(url, params, self.twilio_token),
            "Content-Type": "application/x-www-form-urlencoded",
        }


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def ghl_contact(location: str | None = None, **fields: Any) -> dict[str, Any]:
    body = dict(GHL_CONTACT)
    body.update(
        locationId=location or f"loc-{uuid.uuid4().hex[:12]}",
        id=f"ct-{uuid.uuid4().hex[:12]}",
        webhookId=str(uuid.uuid4()),
        timestamp=now_iso(),
    )
    body.update(fields)
    return body


def compact(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def new_sid() -> str:
    return "SM" + uuid.uuid4().hex


def sendgrid_batch() -> list[dict[str, Any]]:
    """The documented batch (with its repeated event) under ids no other test uses."""
    suffix = uuid.uuid4().hex[:8]
    return [dict(e, sg_event_id=f"{e['sg_event_id']}-{suffix}") for e in SENDGRID_BATCH]


# --- the real server -------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def gateway(cfg: Config) -> AsyncIterator[str]:
    """The real app under uvicorn on a free port; yields its base URL."""
    async with running_gateway(cfg) as url:
        yield url


class Inbox:
    """Reads ingest's inbox table directly: the test's view of what was durably stored."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def rows(self, provider: int, *event_ids: str) -> list[asyncpg.Record]:
        return await self.pool.fetch(
            "SELECT provider_event_id, event_type, location_id, payload FROM ingest.inbox"
            " WHERE provider = $1 AND provider_event_id = any($2::text[]) ORDER BY provider_event_id",
            provider,
            list(event_ids),
            timeout=10,
        )

    async def count(self, provider: int, *event_ids: str) -> int:
        return len(await self.rows(provider, *event_ids))


def inbound_params() -> list[tuple[str, str]]:
    """The documented inbound SMS, every field, under a MessageSid no other test uses."""
    sid = new_sid()
    fields = dict(TWILIO_INBOUND["params"], MessageSid=sid, SmsSid=sid, SmsMessageSid=sid)
    return list(fields.items())


def twilio_inbound(sender: str, to: str, body: str) -> ingest_pb.WebhookEvent:
    """The documented inbound SMS from `sender` to `to`, as the gateway hands it to RecordWebhook."""
    sid = new_sid()
    form = {
        **TWILIO_INBOUND["params"],
        "MessageSid": sid,
        "SmsSid": sid,
        "From": sender,
        "To": to,
        "Body": body,
    }
    return ingest_pb.WebhookEvent(
        provider=ingest_pb.PROVIDER_TWILIO,
        provider_event_id=sid,
        event_type="twilio.inbound_sms",
        payload=urllib.parse.urlencode(form).encode(),
    )


def unused_address() -> str:
    """A local address nothing listens on: a peer that is down."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{sock.getsockname()[1]}"  # closed again: nothing listens there
