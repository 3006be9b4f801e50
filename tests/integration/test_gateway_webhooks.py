"""Provider webhooks through the real HTTP server into the real ingest and PostgreSQL.

Keys are generated here; the gateway is configured with their public halves,
exactly as an operator would configure HighLevel's and SendGrid's.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime
from urllib.parse import urlencode

import httpx
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from leadengine.ingest.v1 import ingest_service_pb2 as pb
from prometheus_client.parser import text_string_to_metric_families

from services.gateway import signatures
from services.gateway.signatures import GhlKeys
from tests.webhooks import (
    PUBLIC_BASE,
    TWILIO_STATUS,
    Signer,
    compact,
    gateway,
    ghl_contact,
    inbound_params,
    new_sid,
    now_iso,
    sendgrid_batch,
)

# Connections the client opens at most. httpx's pool costs CPU per request that grows with
# the connections and the requests queued on it; in this one-process test that CPU is taken
# from the gateway and ingest, so the client keeps few and callers queue on a semaphore.
CONNECTIONS = 16


@pytest.fixture(scope="module")
async def http(ingest_addr, signer) -> AsyncIterator[httpx.AsyncClient]:
    # The client, the gateway and ingest share one event loop here: a long ingest deadline
    # keeps the client's CPU from turning into 429s that a real deployment would not see.
    cfg = signer.config(ingest_addr, ingest_timeout_s=60.0)
    limits = httpx.Limits(max_connections=CONNECTIONS)
    async with gateway(cfg) as url, httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:
        yield client


async def post_all(
    http: httpx.AsyncClient, posts: Sequence[tuple[bytes, Mapping[str, str]]]
) -> list[httpx.Response]:
    """POST every body to /webhooks/ghl at once: all in flight together, CONNECTIONS on the wire."""
    wire = asyncio.Semaphore(CONNECTIONS)

    async def post(raw: bytes, headers: Mapping[str, str]) -> httpx.Response:
        async with wire:
            return await http.post("/webhooks/ghl", content=raw, headers=headers)

    return await asyncio.gather(*(post(raw, headers) for raw, headers in posts))


# --- HighLevel -------------------------------------------------------------------------------------


async def test_ghl_contact_create_is_stored_once_with_its_raw_bytes(http, signer, inbox) -> None:
    body = ghl_contact()
    raw = json.dumps(body, indent=1).encode()  # not compact: the signed bytes are stored as they came
    resp = await http.post("/webhooks/ghl", content=raw, headers=signer.ghl_headers(raw))
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"status": "stored"}
    [row] = await inbox.rows(pb.PROVIDER_GHL, body["webhookId"])
    assert (row["event_type"], bytes(row["payload"])) == ("ContactCreate", raw)
    assert row["location_id"] == body["locationId"]

    again = await http.post("/webhooks/ghl", content=raw, headers=signer.ghl_headers(raw))
    assert again.status_code == 200
    assert again.json() == {"status": "duplicate"}
    assert await inbox.count(pb.PROVIDER_GHL, body["webhookId"]) == 1


async def test_ghl_unknown_type_is_stored_and_acknowledged(http, signer, inbox) -> None:
    body = {"type": "ObjectSchemaCreate", "webhookId": str(uuid.uuid4()), "timestamp": now_iso()}
    raw = compact(body)
    resp = await http.post("/webhooks/ghl", content=raw, headers=signer.ghl_headers(raw))
    assert resp.status_code == 200, resp.text
    assert await inbox.count(pb.PROVIDER_GHL, body["webhookId"]) == 1


@pytest.mark.parametrize(
    ("forge", "reason"),
    [
        (lambda s, raw: s.ghl_headers(raw.replace(b"Jordan", b"Jordon")), "BAD_SIGNATURE"),  # tampered body
        (lambda s, raw: Signer().ghl_headers(raw), "BAD_SIGNATURE"),  # someone else's key
        (lambda s, raw: {"Content-Type": "application/json"}, "MISSING_SIGNATURE"),
        (lambda s, raw: {"X-GHL-Signature": "%%%"}, "BAD_SIGNATURE"),
        # Legacy RSA is off in this gateway: a valid-looking legacy signature is not enough.
        (lambda s, raw: {"X-WH-Signature": base64.b64encode(b"x" * 512).decode()}, "BAD_SIGNATURE"),
    ],
    ids=["tampered", "wrong-key", "missing-header", "not-base64", "legacy-disabled"],
)
async def test_ghl_unverified_is_401_and_nothing_is_stored(http, signer, inbox, forge, reason: str) -> None:
    body = ghl_contact()
    raw = compact(body)
    resp = await http.post("/webhooks/ghl", content=raw, headers=forge(signer, raw))
    assert resp.status_code == 401
    assert resp.json()["reason"] == reason
    assert await inbox.count(pb.PROVIDER_GHL, body["webhookId"]) == 0


async def test_ghl_old_timestamp_is_401_and_nothing_is_stored(http, signer, inbox) -> None:
    body = ghl_contact(timestamp="2026-01-01T00:00:00.000Z")
    raw = compact(body)
    resp = await http.post("/webhooks/ghl", content=raw, headers=signer.ghl_headers(raw))
    assert resp.status_code == 401
    assert resp.json()["reason"] == "STALE_TIMESTAMP"
    assert await inbox.count(pb.PROVIDER_GHL, body["webhookId"]) == 0


async def test_ghl_retry_of_an_hour_old_delivery_is_still_accepted(http, signer, inbox) -> None:
    sent = datetime.fromtimestamp(time.time() - 3600, UTC).isoformat()
    body = ghl_contact(timestamp=sent)
    raw = compact(body)
    resp = await http.post("/webhooks/ghl", content=raw, headers=signer.ghl_headers(raw))
    assert resp.status_code == 200, resp.text
    assert await inbox.count(pb.PROVIDER_GHL, body["webhookId"]) == 1


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "BAD_JSON"),
        (b'["ContactCreate"]', "NOT_AN_OBJECT"),
        (compact({"webhookId": "w-no-type", "timestamp": "2026-11-25T00:00:00Z"}), "MISSING_TYPE"),
        (compact({"type": "ContactCreate"}), "MISSING_WEBHOOKID"),
        (compact({"type": "ContactCreate", "webhookId": 12}), "MISSING_WEBHOOKID"),
        (compact({"type": "ContactCreate", "webhookId": "w-bad-ts", "timestamp": "soon"}), "BAD_TIMESTAMP"),
    ],
)
async def test_ghl_signed_but_malformed_is_400_and_nothing_is_stored(
    http, signer, inbox, body, reason
) -> None:
    resp = await http.post("/webhooks/ghl", content=body, headers=signer.ghl_headers(body))
    assert resp.status_code == 400
    assert resp.json()["reason"] == reason
    assert await inbox.count(pb.PROVIDER_GHL, "w-no-type", "w-bad-ts") == 0


async def test_ghl_legacy_rsa_signature_when_allowed(ingest_addr, signer, inbox) -> None:
    legacy = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    keys = GhlKeys(ed25519=(signer.ghl.public_key(),), rsa=(legacy.public_key(),), allow_legacy=True)
    body = ghl_contact()
    raw = compact(body)
    headers = {
        "X-WH-Signature": base64.b64encode(legacy.sign(raw, padding.PKCS1v15(), hashes.SHA256())).decode()
    }
    async with (
        gateway(signer.config(ingest_addr, ghl_keys=keys)) as url,
        httpx.AsyncClient(base_url=url) as client,
    ):
        resp = await client.post("/webhooks/ghl", content=raw, headers=headers, timeout=30)
    assert resp.status_code == 200, resp.text
    assert await inbox.count(pb.PROVIDER_GHL, body["webhookId"]) == 1


async def test_ghl_duplicate_delivery_storm_has_one_effect(http, signer, inbox) -> None:
    body = ghl_contact()
    raw = compact(body)
    headers = signer.ghl_headers(raw)
    # A client of its own with a connection per copy: all 50 reach the server at once.
    async with httpx.AsyncClient(
        base_url=http.base_url, timeout=120, limits=httpx.Limits(max_connections=50)
    ) as c:
        answers = await asyncio.gather(
            *(c.post("/webhooks/ghl", content=raw, headers=headers) for _ in range(50))
        )
    assert [r.status_code for r in answers] == [200] * 50, {r.status_code: r.text for r in answers}
    assert sum(r.json()["status"] == "stored" for r in answers) == 1
    assert await inbox.count(pb.PROVIDER_GHL, body["webhookId"]) == 1


async def test_500_concurrent_distinct_webhooks_are_all_durable(http, signer, inbox) -> None:
    location = f"loc-{uuid.uuid4().hex[:12]}"
    bodies = [compact(ghl_contact(location)) for _ in range(500)]
    answers = await post_all(http, [(raw, signer.ghl_headers(raw)) for raw in bodies])
    assert sorted({r.status_code for r in answers}) == [200], {r.status_code: r.text for r in answers}
    ids = [json.loads(raw)["webhookId"] for raw in bodies]
    assert await inbox.count(pb.PROVIDER_GHL, *ids) == 500


# --- Twilio ----------------------------------------------------------------------------------------


async def test_twilio_documented_inbound_sms_end_to_end(http, signer, inbox) -> None:
    params = inbound_params()
    raw = urlencode(params).encode()
    # The vector's query string (tenant=demo) is part of what Twilio signs.
    url = f"{PUBLIC_BASE}/webhooks/twilio/sms?tenant=demo"
    resp = await http.post(
        "/webhooks/twilio/sms?tenant=demo", content=raw, headers=signer.twilio_headers(url, params)
    )
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("text/xml")
    assert resp.text == '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
    sid = dict(params)["MessageSid"]
    [row] = await inbox.rows(pb.PROVIDER_TWILIO, sid)
    assert (row["event_type"], bytes(row["payload"])) == ("twilio.inbound_sms", raw)

    again = await http.post(
        "/webhooks/twilio/sms?tenant=demo", content=raw, headers=signer.twilio_headers(url, params)
    )
    assert again.status_code == 200
    assert await inbox.count(pb.PROVIDER_TWILIO, sid) == 1


async def test_twilio_signature_over_the_internal_url_is_refused(http, signer, inbox) -> None:
    """Behind a proxy the request URL is not what Twilio signed; only the public one counts."""
    params = inbound_params()
    raw = urlencode(params).encode()
    internal = f"{http.base_url}webhooks/twilio/sms".replace("//webhooks", "/webhooks")
    for url in (
        internal,
        f"{PUBLIC_BASE}/webhooks/twilio/sms?tenant=demo",
        f"{PUBLIC_BASE}/webhooks/twilio/sms",
    ):
        resp = await http.post(
            "/webhooks/twilio/sms", content=raw, headers=signer.twilio_headers(url, params)
        )
        expected = 200 if url == f"{PUBLIC_BASE}/webhooks/twilio/sms" else 401
        assert resp.status_code == expected, (url, resp.text)


@pytest.mark.parametrize("forge", ["tampered", "wrong-token", "missing-header", "field-dropped"])
async def test_twilio_unverified_is_401_and_nothing_is_stored(http, signer, inbox, forge: str) -> None:
    params = inbound_params()
    url = f"{PUBLIC_BASE}/webhooks/twilio/sms"
    headers = signer.twilio_headers(url, params)
    sent = list(params)
    if forge == "tampered":
        sent = [(k, "STOP" if k == "Body" else v) for k, v in params]
    elif forge == "wrong-token":
        headers["X-Twilio-Signature"] = signatures.twilio_signature(url, params, "another-token")
    elif forge == "missing-header":
        del headers["X-Twilio-Signature"]
    else:  # a verifier that whitelists fields would accept this
        sent = [(k, v) for k, v in params if k != "FromCity"]
    resp = await http.post("/webhooks/twilio/sms", content=urlencode(sent).encode(), headers=headers)
    assert resp.status_code == 401
    assert resp.json()["reason"] == ("MISSING_SIGNATURE" if forge == "missing-header" else "BAD_SIGNATURE")
    assert await inbox.count(pb.PROVIDER_TWILIO, dict(params)["MessageSid"]) == 0


async def test_twilio_status_callbacks_are_one_event_per_status(http, signer, inbox) -> None:
    sid = new_sid()
    url = f"{PUBLIC_BASE}/webhooks/twilio/status"
    for status in ("sent", "delivered", "delivered"):
        params = list(
            dict(TWILIO_STATUS, MessageSid=sid, SmsSid=sid, MessageStatus=status, SmsStatus=status).items()
        )
        resp = await http.post(
            "/webhooks/twilio/status",
            content=urlencode(params).encode(),
            headers=signer.twilio_headers(url, params),
        )
        assert resp.status_code == 204, resp.text
    rows = await inbox.rows(pb.PROVIDER_TWILIO, f"{sid}:sent", f"{sid}:delivered")
    assert [(r["provider_event_id"], r["event_type"]) for r in rows] == [
        (f"{sid}:delivered", "twilio.status_callback"),
        (f"{sid}:sent", "twilio.status_callback"),
    ]


@pytest.mark.parametrize(
    ("path", "drop", "reason"),
    [
        ("/webhooks/twilio/sms", "MessageSid", "MISSING_MESSAGESID"),
        ("/webhooks/twilio/status", "MessageStatus", "MISSING_MESSAGESTATUS"),
    ],
)
async def test_twilio_signed_but_incomplete_is_400(http, signer, path: str, drop: str, reason: str) -> None:
    params = [(k, v) for k, v in dict(TWILIO_STATUS, MessageSid=new_sid()).items() if k != drop]
    resp = await http.post(
        path, content=urlencode(params).encode(), headers=signer.twilio_headers(PUBLIC_BASE + path, params)
    )
    assert resp.status_code == 400
    assert resp.json()["reason"] == reason


# --- SendGrid --------------------------------------------------------------------------------------


async def test_sendgrid_batch_stores_each_event_once(http, signer, inbox) -> None:
    batch = sendgrid_batch()
    raw = compact(batch) + b"\r\n"  # SendGrid's bodies end with CRLF; the bytes are what is signed
    resp = await http.post("/webhooks/sendgrid", content=raw, headers=signer.sendgrid_headers(raw))
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"status": "stored", "events": 10}  # 11 elements, one repeated
    ids = [e["sg_event_id"] for e in batch]
    rows = await inbox.rows(pb.PROVIDER_SENDGRID, *ids)
    assert len(rows) == 10
    first = next(r for r in rows if r["provider_event_id"] == batch[0]["sg_event_id"])
    assert first["event_type"] == "processed"
    assert json.loads(bytes(first["payload"])) == batch[0]

    again = await http.post("/webhooks/sendgrid", content=raw, headers=signer.sendgrid_headers(raw))
    assert again.status_code == 200
    assert again.json()["status"] == "duplicate"
    assert await inbox.count(pb.PROVIDER_SENDGRID, *ids) == 10


@pytest.mark.parametrize(
    ("forge", "reason"),
    [
        ("tampered", "BAD_SIGNATURE"),
        ("wrong-key", "BAD_SIGNATURE"),
        ("missing-signature", "MISSING_SIGNATURE"),
        ("missing-timestamp", "MISSING_SIGNATURE"),
        ("timestamp-swapped", "BAD_SIGNATURE"),
        ("replayed-old", "STALE_TIMESTAMP"),
        ("from-the-future", "STALE_TIMESTAMP"),
    ],
)
async def test_sendgrid_unverified_or_replayed_is_401_and_nothing_is_stored(
    http, signer, inbox, forge: str, reason: str
) -> None:
    batch = sendgrid_batch()[:2]
    raw = compact(batch) + b"\r\n"
    sent = raw
    headers = signer.sendgrid_headers(raw)
    if forge == "tampered":
        sent = raw.replace(b"processed", b"delivered")
    elif forge == "wrong-key":
        headers = Signer().sendgrid_headers(raw)
    elif forge == "missing-signature":
        del headers["X-Twilio-Email-Event-Webhook-Signature"]
    elif forge == "missing-timestamp":
        del headers["X-Twilio-Email-Event-Webhook-Timestamp"]
    elif forge == "timestamp-swapped":
        headers["X-Twilio-Email-Event-Webhook-Timestamp"] = str(int(time.time()) + 1)
    elif forge == "replayed-old":
        headers = signer.sendgrid_headers(raw, stamp=int(time.time()) - 301)
    else:
        headers = signer.sendgrid_headers(raw, stamp=int(time.time()) + 3600)
    resp = await http.post("/webhooks/sendgrid", content=sent, headers=headers)
    assert resp.status_code == 401
    assert resp.json()["reason"] == reason
    assert await inbox.count(pb.PROVIDER_SENDGRID, *(e["sg_event_id"] for e in batch)) == 0


@pytest.mark.parametrize(
    "body",
    [
        b"{}",
        b"[]",
        b"not json",
        compact([{"event": "open"}]),
        compact([{"sg_event_id": "x", "event": "open"}, 3]),
    ],
)
async def test_sendgrid_signed_but_malformed_is_400(http, signer, inbox, body: bytes) -> None:
    resp = await http.post("/webhooks/sendgrid", content=body, headers=signer.sendgrid_headers(body))
    assert resp.status_code == 400
    assert await inbox.count(pb.PROVIDER_SENDGRID, "x") == 0


# --- every route -----------------------------------------------------------------------------------


def samples(metrics_text: str, name: str) -> Mapping[tuple[tuple[str, str], ...], float]:
    found = {}
    for family in text_string_to_metric_families(metrics_text):
        for sample in family.samples:
            if sample.name == name:
                found[tuple(sorted(sample.labels.items()))] = sample.value
    return found


async def test_metrics_count_outcomes_and_time_each_delivery(http, signer) -> None:
    accepted = (("outcome", "accepted"), ("provider", "ghl"))
    unauthorized = (("outcome", "unauthorized"), ("provider", "ghl"))
    before = samples((await http.get("/metrics")).text, "gateway_webhooks_total")
    raw = compact(ghl_contact())
    assert (await http.post("/webhooks/ghl", content=raw, headers=signer.ghl_headers(raw))).status_code == 200
    assert (await http.post("/webhooks/ghl", content=raw)).status_code == 401
    text = (await http.get("/metrics")).text
    after = samples(text, "gateway_webhooks_total")
    assert after[accepted] == before.get(accepted, 0) + 1
    assert after[unauthorized] == before.get(unauthorized, 0) + 1
    assert samples(text, "gateway_webhook_seconds_count")[(("provider", "ghl"),)] >= 2


async def test_rejections_are_logged_without_the_body(http, signer, caplog) -> None:
    body = ghl_contact(email="private.person@example.com", phone="+15555550199")
    raw = compact(body)
    with caplog.at_level("WARNING", logger="services.gateway.forwarding"):
        resp = await http.post("/webhooks/ghl", content=raw, headers=Signer().ghl_headers(raw))
    assert resp.status_code == 401
    [record] = [r for r in caplog.records if r.getMessage() == "webhook rejected"]
    assert (record.provider, record.reason, record.status) == ("ghl", "BAD_SIGNATURE", 401)
    logged = json.dumps({k: str(v) for k, v in vars(record).items()})
    for secret in ("private.person", "5555550199", body["webhookId"], body["id"]):
        assert secret not in logged
