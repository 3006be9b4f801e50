"""What each provider is told when the gateway cannot store its event, or will not read it.

Faults come from an ingest address nothing listens on, and from purpose-built
IngestService stand-ins that are slow or refuse (fault injection, named as
such); the real ingest is exercised in test_gateway_webhooks.py.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlencode, urlsplit

import httpx
import pytest
from leadengine.ingest.v1 import ingest_service_pb2 as pb
from leadengine.ingest.v1 import ingest_service_pb2_grpc as pb_grpc

from shared.errors import FieldViolation, InvalidArgument
from shared.server import Registration, ServiceApp
from tests.support import running
from tests.webhooks import (
    PUBLIC_BASE,
    Signer,
    compact,
    gateway,
    ghl_contact,
    inbound_params,
    sendgrid_batch,
    unused_address,
)


class SlowIngestFault(pb_grpc.IngestServiceServicer):
    """Fault injection: an ingest that takes longer than the gateway's deadline."""

    async def RecordWebhook(self, request, context):
        await asyncio.sleep(5)
        return pb.RecordWebhookResponse()


class RefusingIngestFault(pb_grpc.IngestServiceServicer):
    """Fault injection: an ingest that finds the envelope invalid."""

    async def RecordWebhook(self, request, context):
        raise InvalidArgument(
            "provider_event_id is too long",
            reason="INVALID_PROVIDER_EVENT_ID",
            violations=[FieldViolation("events[0].provider_event_id", "at most 200 characters")],
        )


def fault_app(servicer: pb_grpc.IngestServiceServicer) -> ServiceApp:
    return ServiceApp(
        registrations=[
            Registration(
                pb.DESCRIPTOR.services_by_name["IngestService"].full_name,
                pb_grpc.add_IngestServiceServicer_to_server,
                servicer,
            )
        ],
        error_domain="ingest.leadengine",
    )


async def post_each_provider(client: httpx.AsyncClient, signer: Signer) -> dict[str, httpx.Response]:
    ghl = compact(ghl_contact())
    sendgrid = compact(sendgrid_batch()) + b"\r\n"
    params = inbound_params()
    status = [("MessageSid", "SM" + uuid.uuid4().hex), ("MessageStatus", "delivered")]
    return {
        "ghl": await client.post("/webhooks/ghl", content=ghl, headers=signer.ghl_headers(ghl)),
        "sendgrid": await client.post(
            "/webhooks/sendgrid", content=sendgrid, headers=signer.sendgrid_headers(sendgrid)
        ),
        "twilio_sms": await client.post(
            "/webhooks/twilio/sms",
            content=urlencode(params).encode(),
            headers=signer.twilio_headers(f"{PUBLIC_BASE}/webhooks/twilio/sms", params),
        ),
        "twilio_status": await client.post(
            "/webhooks/twilio/status",
            content=urlencode(status).encode(),
            headers=signer.twilio_headers(f"{PUBLIC_BASE}/webhooks/twilio/status", status),
        ),
    }


RETRY_STATUS = {"ghl": 429, "sendgrid": 503, "twilio_sms": 503, "twilio_status": 503}


async def test_ingest_unreachable_asks_each_provider_to_deliver_again(signer) -> None:
    cfg = signer.config(unused_address(), ingest_timeout_s=2.0)
    async with gateway(cfg) as url, httpx.AsyncClient(base_url=url, timeout=30) as client:
        answers = await post_each_provider(client, signer)
    assert {name: r.status_code for name, r in answers.items()} == RETRY_STATUS
    # HighLevel retries only a 429, never a 5xx (a 5xx would lose the event).
    assert answers["ghl"].headers["retry-after"].isdigit()
    assert {r.json()["reason"] for r in answers.values()} == {"INGEST_UNAVAILABLE"}


async def test_ingest_past_the_deadline_asks_each_provider_to_deliver_again(signer) -> None:
    async with running(fault_app(SlowIngestFault())) as (addr, _):
        cfg = signer.config(addr, ingest_timeout_s=0.2)
        async with gateway(cfg) as url, httpx.AsyncClient(base_url=url, timeout=30) as client:
            started = time.monotonic()
            answers = await post_each_provider(client, signer)
            elapsed = time.monotonic() - started
    assert {name: r.status_code for name, r in answers.items()} == RETRY_STATUS
    assert elapsed < 4 * 5  # answered at the gateway's deadline, not when the slow ingest finished


async def test_ingest_refusing_the_envelope_is_a_bad_request(signer) -> None:
    async with running(fault_app(RefusingIngestFault())) as (addr, _):
        async with gateway(signer.config(addr)) as url, httpx.AsyncClient(base_url=url, timeout=30) as client:
            answers = await post_each_provider(client, signer)
    assert {r.status_code for r in answers.values()} == {400}
    assert {r.json()["reason"] for r in answers.values()} == {"INVALID_PROVIDER_EVENT_ID"}


@pytest.mark.parametrize(
    ("overrides", "path", "missing"),
    [
        ({"twilio_auth_token": ""}, "/webhooks/twilio/sms", ["TWILIO_AUTH_TOKEN"]),
        ({"public_base_url": ""}, "/webhooks/twilio/status", ["WEBHOOK_PUBLIC_BASE_URL"]),
        (
            {"twilio_auth_token": "", "public_base_url": ""},
            "/webhooks/twilio/sms",
            ["TWILIO_AUTH_TOKEN", "WEBHOOK_PUBLIC_BASE_URL"],
        ),
        ({"sendgrid_key": None}, "/webhooks/sendgrid", ["SENDGRID_WEBHOOK_PUBLIC_KEY"]),
    ],
)
async def test_unconfigured_providers_are_refused_never_accepted_unverified(
    signer, overrides, path: str, missing: list[str]
) -> None:
    async with (
        gateway(signer.config(unused_address(), **overrides)) as url,
        httpx.AsyncClient(base_url=url) as c,
    ):
        resp = await c.post(path, content=b"MessageSid=SM1&MessageStatus=sent", timeout=10)
    assert resp.status_code == 503
    assert resp.json()["reason"].endswith("_NOT_CONFIGURED")
    for name in missing:
        assert name in resp.json()["error"]


# --- size ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def small_gateway(signer) -> AsyncIterator[str]:
    async with gateway(signer.config(unused_address(), max_body_bytes=4096)) as url:
        yield url


@pytest.mark.parametrize("path", ["/webhooks/ghl", "/webhooks/sendgrid", "/webhooks/twilio/sms"])
async def test_declared_oversize_body_is_refused_before_it_is_sent(small_gateway, path: str) -> None:
    """Only the headers go out: a 413 that arrives anyway was decided without the body."""
    parts = urlsplit(small_gateway)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    try:
        writer.write(
            f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {3 * 1024 * 1024}\r\n\r\n".encode()
        )
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), timeout=10)
    finally:
        writer.close()
    assert status_line.startswith(b"HTTP/1.1 413"), status_line


async def test_streamed_oversize_body_is_refused_while_counting(small_gateway) -> None:
    sent = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal sent
        for _ in range(64):
            sent += 1024
            yield b"[" * 1024

    async with httpx.AsyncClient(base_url=small_gateway, timeout=10) as client:
        resp = await client.post("/webhooks/ghl", content=chunks())  # chunked: no Content-Length
    assert resp.status_code == 413
    assert resp.json()["reason"] == "BODY_TOO_LARGE"


async def test_body_at_the_limit_is_read_and_judged_on_its_signature(small_gateway) -> None:
    body = json.dumps({"pad": "x" * 4000})
    body += " " * (4096 - len(body))
    async with httpx.AsyncClient(base_url=small_gateway, timeout=10) as client:
        resp = await client.post("/webhooks/ghl", content=body.encode())
    assert resp.status_code == 401  # read in full, then refused for want of a signature
