"""The provider webhook routes: verify over the raw bytes, extract ids, hand to ingest.

No business rules live here: what an event means is ingest's concern. The
order is always the same: bounded body, signature, shape, one RecordWebhook.
"""

from __future__ import annotations

import json
import math
import time
from datetime import UTC, datetime
from typing import Any

from leadengine.ingest.v1 import ingest_service_pb2_grpc as pb_grpc
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from services.gateway import signatures
from services.gateway.config import Config
from services.gateway.forwarding import (
    GHL,
    SENDGRID,
    TWILIO,
    Accepted,
    Rejected,
    event,
    malformed,
    read_body,
    record,
    unauthorized,
)
from services.gateway.signatures import SignatureError
from shared import payloads

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
# HighLevel's clock and ours may disagree a little; a body from further ahead is forged or broken.
GHL_MAX_FUTURE_S = 300.0
# Twilio sends a few dozen fields (MMS adds two per medium); far more is not Twilio.
TWILIO_MAX_FIELDS = 1000


def parse_json(raw: bytes) -> Any:
    """Any JSON value but NaN and Infinity: stored payloads must parse anywhere (jsonb refuses them)."""
    try:
        return payloads.read_json(raw)
    except payloads.PayloadError:
        raise malformed("BAD_JSON", "the body is not valid JSON") from None


def check_ghl_timestamp(body: dict[str, Any], now: float, max_age_s: float) -> None:
    """HighLevel has put an ISO-8601 `timestamp` in every body since 2025; older
    integrations send none, so only a present one is checked."""
    if "timestamp" not in body:
        return
    value = body["timestamp"]
    if not isinstance(value, str):
        raise malformed("BAD_TIMESTAMP", "timestamp must be an ISO-8601 string")
    try:
        sent = datetime.fromisoformat(value)
        if sent.tzinfo is None:
            sent = sent.replace(tzinfo=UTC)  # HighLevel writes UTC ("...Z")
        age = now - sent.timestamp()
    except (ValueError, OverflowError):
        raise malformed("BAD_TIMESTAMP", "timestamp is not an ISO-8601 date and time") from None
    if age > max_age_s:
        raise unauthorized("STALE_TIMESTAMP", f"timestamp is {age:.0f}s old; the limit is {max_age_s:.0f}s")
    if age < -GHL_MAX_FUTURE_S:
        raise unauthorized("TIMESTAMP_IN_FUTURE", f"timestamp is {-age:.0f}s in the future")


def _required_text(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise malformed(f"MISSING_{name.upper()}", f"the body needs a non-empty string {name!r}")
    return value


async def ghl(request: Request, cfg: Config, ingest: pb_grpc.IngestServiceAsyncStub) -> Accepted:
    raw = await read_body(request, cfg.max_body_bytes)
    current, legacy = request.headers.get("x-ghl-signature"), request.headers.get("x-wh-signature")
    if not current and not legacy:
        raise unauthorized("MISSING_SIGNATURE", "missing X-GHL-Signature header")
    try:
        signatures.verify_ghl(raw, current, legacy, cfg.ghl_keys)
    except SignatureError as err:
        raise unauthorized("BAD_SIGNATURE", str(err)) from None
    body = parse_json(raw)
    if not isinstance(body, dict):
        raise malformed("NOT_AN_OBJECT", "the body must be a JSON object")
    event_type = _required_text(body, "type")
    webhook_id = _required_text(body, "webhookId")
    check_ghl_timestamp(body, time.time(), cfg.ghl_max_age_s)
    location = body.get("locationId")
    ev = event(GHL, webhook_id, event_type, raw, location if isinstance(location, str) else "")
    duplicate = await record(ingest, GHL, [ev], cfg.ingest_timeout_s)
    return Accepted(JSONResponse({"status": "duplicate" if duplicate else "stored"}), duplicate)


def public_url(base: str, raw_path: str, query: str) -> str:
    """The URL Twilio called and signed: behind a proxy ours differs in scheme, host or port.
    The query is kept byte for byte (percent-encoding included), as Twilio signs it."""
    return base + raw_path + (f"?{query}" if query else "")


def parse_form(raw: bytes) -> list[tuple[str, str]]:
    """Every received field, in order: Twilio adds fields without notice and signs them all."""
    try:
        return payloads.read_form(raw, max_fields=TWILIO_MAX_FIELDS)
    except payloads.PayloadError:
        raise malformed("BAD_FORM", "the body is not UTF-8 form data") from None


def _first(params: list[tuple[str, str]], name: str) -> str:
    value = next((v for k, v in params if k == name), "")
    if not value:
        raise malformed(f"MISSING_{name.upper()}", f"the form needs {name}")
    return value


async def _verified_twilio_form(request: Request, cfg: Config) -> tuple[bytes, list[tuple[str, str]]]:
    missing = [
        name
        for name, value in (
            ("TWILIO_AUTH_TOKEN", cfg.twilio_auth_token),
            ("WEBHOOK_PUBLIC_BASE_URL", cfg.public_base_url),
        )
        if not value
    ]
    if missing:
        # Never accept unverified: without these the signature cannot be checked.
        raise Rejected(
            503,
            "TWILIO_NOT_CONFIGURED",
            f"set {' and '.join(missing)} on the gateway to accept Twilio webhooks",
            outcome="not_configured",
        )
    raw = await read_body(request, cfg.max_body_bytes)
    params = parse_form(raw)
    header = request.headers.get("x-twilio-signature")
    if not header:
        raise unauthorized("MISSING_SIGNATURE", "missing X-Twilio-Signature header")
    raw_path = request.scope.get("raw_path") or request.url.path.encode()
    url = public_url(
        cfg.public_base_url, raw_path.decode("latin-1"), request.scope["query_string"].decode("latin-1")
    )
    try:
        signatures.verify_twilio(url, params, header, cfg.twilio_auth_token)
    except SignatureError as err:
        raise unauthorized("BAD_SIGNATURE", str(err)) from None
    return raw, params


async def twilio_sms(request: Request, cfg: Config, ingest: pb_grpc.IngestServiceAsyncStub) -> Accepted:
    raw, params = await _verified_twilio_form(request, cfg)
    ev = event(TWILIO, _first(params, "MessageSid"), "twilio.inbound_sms", raw)
    duplicate = await record(ingest, TWILIO, [ev], cfg.ingest_timeout_s)
    # Empty TwiML: no automatic reply; answering the lead is the coordinator's decision.
    return Accepted(Response(EMPTY_TWIML, media_type="text/xml"), duplicate)


async def twilio_status(request: Request, cfg: Config, ingest: pb_grpc.IngestServiceAsyncStub) -> Accepted:
    raw, params = await _verified_twilio_form(request, cfg)
    sid, status = _first(params, "MessageSid"), _first(params, "MessageStatus")
    ev = event(TWILIO, f"{sid}:{status}", "twilio.status_callback", raw)
    duplicate = await record(ingest, TWILIO, [ev], cfg.ingest_timeout_s)
    return Accepted(Response(status_code=204), duplicate)


def sendgrid_events(body: Any) -> list[tuple[str, str, bytes]]:
    """(sg_event_id, event, payload) per event, first copy of each id only: SendGrid
    repeats events, sometimes within one batch."""
    if not isinstance(body, list) or not body:
        raise malformed("NOT_AN_EVENT_ARRAY", "the body must be a non-empty JSON array of events")
    seen: set[str] = set()
    events = []
    for i, item in enumerate(body):
        if not isinstance(item, dict):
            raise malformed("NOT_AN_EVENT_ARRAY", f"element {i} is not a JSON object")
        event_id, name = item.get("sg_event_id"), item.get("event")
        if not isinstance(event_id, str) or not event_id or not isinstance(name, str) or not name:
            raise malformed("MISSING_EVENT_ID", f"element {i} needs string sg_event_id and event")
        if event_id in seen:
            continue
        seen.add(event_id)
        try:
            payload = json.dumps(item, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate from a \ud800 escape
            raise malformed("BAD_JSON", f"element {i} holds text that is not Unicode") from None
        events.append((event_id, name, payload))
    return events


async def sendgrid(request: Request, cfg: Config, ingest: pb_grpc.IngestServiceAsyncStub) -> Accepted:
    if cfg.sendgrid_key is None:
        raise Rejected(
            503,
            "SENDGRID_NOT_CONFIGURED",
            "set SENDGRID_WEBHOOK_PUBLIC_KEY on the gateway to accept SendGrid webhooks",
            outcome="not_configured",
        )
    raw = await read_body(request, cfg.max_body_bytes)
    signature = request.headers.get("x-twilio-email-event-webhook-signature")
    stamp = request.headers.get("x-twilio-email-event-webhook-timestamp")
    if not signature or not stamp:
        raise unauthorized(
            "MISSING_SIGNATURE",
            "missing X-Twilio-Email-Event-Webhook-Signature or X-Twilio-Email-Event-Webhook-Timestamp",
        )
    now = time.time()
    try:
        # The age is checked below, so that a replay is told apart from a forgery.
        signatures.verify_sendgrid(raw, signature, stamp, cfg.sendgrid_key, now=now, tolerance_s=math.inf)
    except SignatureError as err:
        raise unauthorized("BAD_SIGNATURE", str(err)) from None
    sent = float(stamp)  # verify_sendgrid parsed it already
    if not math.isfinite(sent) or abs(now - sent) > cfg.sendgrid_max_age_s:
        raise unauthorized(
            "STALE_TIMESTAMP", f"the signed timestamp is more than {cfg.sendgrid_max_age_s:.0f}s from now"
        )
    events = [event(SENDGRID, eid, name, payload) for eid, name, payload in sendgrid_events(parse_json(raw))]
    duplicate = await record(ingest, SENDGRID, events, cfg.ingest_timeout_s)
    return Accepted(
        JSONResponse({"status": "duplicate" if duplicate else "stored", "events": len(events)}), duplicate
    )
