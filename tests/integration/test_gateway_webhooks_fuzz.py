"""Any JSON HighLevel could sign gets a 2xx or a 4xx, never a 5xx, and a 4xx stores nothing."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from leadengine.ingest.v1 import ingest_service_pb2 as pb

from services.gateway.forwarding import Rejected
from services.gateway.webhooks import check_ghl_timestamp
from tests.webhooks import Signer, gateway, now_iso

GHL_TYPES = [
    "ContactCreate",
    "ContactUpdate",
    "ContactDelete",
    "ContactDndUpdate",
    "ContactTagUpdate",
    "InboundMessage",
    "OutboundMessage",
    "OpportunityCreate",
    "OpportunityStatusUpdate",
    "AppointmentCreate",
    "TaskCreate",
    "NoteCreate",
    "INSTALL",
    "UNINSTALL",
]

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=16,
)
text_or_any = st.text(max_size=40) | json_values
dnd = st.fixed_dictionaries(
    {},
    optional={
        channel: st.fixed_dictionaries(
            {"status": st.sampled_from(["active", "inactive", "permanent"]) | json_values}
        )
        for channel in ("SMS", "Email", "Call")
    },
)
# Everything HighLevel documents, each field either plausible or anything at all.
contact_fields = {
    "locationId": st.sampled_from(["fuzz-location-a", "fuzz-location-b"]) | text_or_any,
    "id": st.uuids().map(lambda u: f"ct-{u.hex[:16]}") | text_or_any,
    "contactId": st.uuids().map(lambda u: f"ct-{u.hex[:16]}") | text_or_any,
    "email": st.emails() | text_or_any,
    "phone": st.sampled_from(["+15125550123", "512-555-0199", "(512) 555 0100", ""]) | text_or_any,
    "firstName": text_or_any,
    "tags": st.lists(st.text(max_size=12), max_size=5) | json_values,
    "dnd": st.booleans() | json_values,
    "dndSettings": dnd | json_values,
    "customFields": st.lists(st.fixed_dictionaries({"id": st.text(max_size=8), "value": json_values}))
    | json_values,
    "body": text_or_any,
    "messageType": st.sampled_from(["SMS", "Email", "CALL"]) | text_or_any,
    "direction": st.sampled_from(["inbound", "outbound"]) | text_or_any,
    "appointment": json_values,
    "monetaryValue": json_values,
}
# A valid envelope around wild fields: what reaches ingest's normalising.
ghl_valid_envelope = st.fixed_dictionaries(
    {"type": st.sampled_from(GHL_TYPES), "webhookId": st.just("fresh"), "timestamp": st.just("now")},
    optional=contact_fields,
)
# Anything in the envelope too.
ghl_like = st.fixed_dictionaries(
    {
        "type": st.sampled_from(GHL_TYPES) | text_or_any,
        "webhookId": st.just("fresh") | json_values,  # "fresh": a new id per example
    },
    optional={"timestamp": st.just("now") | text_or_any, **contact_fields},
)


@pytest.fixture(scope="module")
async def http(ingest_addr: str, signer: Signer) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        gateway(signer.config(ingest_addr)) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as client,
    ):
        yield client


def expected_timestamp_status(body: object) -> int | None:
    """401 when the body carries a well-formed but out-of-window timestamp, else None."""
    if not isinstance(body, dict) or not isinstance(body.get("timestamp"), str):
        return None
    try:
        check_ghl_timestamp(body, time.time(), 7200)
    except Rejected as rej:
        return rej.status if rej.status == 401 else None
    return None


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(body=ghl_valid_envelope | ghl_like | json_values)
async def test_signed_json_never_gets_a_5xx_and_a_refusal_stores_nothing(http, signer, inbox, body) -> None:
    fresh = isinstance(body, dict) and body.get("webhookId") == "fresh"
    if fresh:
        body["webhookId"] = str(uuid.uuid4())
    if isinstance(body, dict) and body.get("timestamp") == "now":
        body["timestamp"] = now_iso()
    raw = json.dumps(body).encode()
    resp = await http.post("/webhooks/ghl", content=raw, headers=signer.ghl_headers(raw))
    allowed = {200, 400} | ({401} if expected_timestamp_status(body) == 401 else set())
    assert resp.status_code in allowed, resp.text
    event(f"status {resp.status_code}")
    if resp.status_code == 200:
        assert await inbox.count(pb.PROVIDER_GHL, body["webhookId"]) == 1
    elif fresh:  # generated ids may repeat across examples; only a fresh one proves "nothing stored"
        assert await inbox.count(pb.PROVIDER_GHL, body["webhookId"]) == 0
