"""Provider webhooks through the whole mesh: signed HTTP in, the lead's journey and consent out.

The real gateway (uvicorn) in front of all five real services on real PostgreSQL;
keys are generated here, the gateway holds their public halves.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlencode

import httpx
import pytest
from leadengine.coordinator.v1 import coordinator_service_pb2 as pb
from leadengine.ingest.v1 import ingest_service_pb2 as ingest_pb

from tests.journeys import (
    DAY_HOURS,
    NIGHT_HOURS,
    add_agent,
    add_lead,
    comms_of,
    eventually,
    first_touches,
    journey_of,
    settled_first_touch,
    zone_where,
)
from tests.support import Mesh, mesh
from tests.webhooks import PUBLIC_BASE, Signer, compact, gateway, ghl_contact, new_sid

OUR_NUMBER = "+15125550100"


def fresh_phone() -> str:
    """A valid Austin number no other test uses: opt-outs are global per number."""
    return f"+1512{random.randint(2, 9)}{random.randint(0, 999_999):06d}"


@pytest.fixture(scope="module")
async def m(migrated_dsn: str) -> AsyncIterator[Mesh]:
    async with mesh(migrated_dsn, overrides={"ingest": {"outbox_poll_s": 0.1}}) as running:
        yield running


@pytest.fixture(scope="module")
def signer() -> Signer:
    return Signer()


@pytest.fixture(scope="module")
async def http(m: Mesh, signer: Signer) -> AsyncIterator[httpx.AsyncClient]:
    async with gateway(signer.config(m.addr["ingest"], ingest_timeout_s=30.0)) as url:
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:
            yield client


async def text_from(
    http: httpx.AsyncClient, signer: Signer, phone: str, body: str, sid: str
) -> httpx.Response:
    params = [("MessageSid", sid), ("From", phone), ("To", OUR_NUMBER), ("Body", body), ("NumMedia", "0")]
    url = f"{PUBLIC_BASE}/webhooks/twilio/sms"
    return await http.post(
        "/webhooks/twilio/sms", content=urlencode(params).encode(), headers=signer.twilio_headers(url, params)
    )


async def test_ghl_contact_becomes_a_lead_with_a_journey(
    m: Mesh, http: httpx.AsyncClient, signer: Signer
) -> None:
    location = f"loc-{uuid.uuid4().hex[:10]}"
    await add_agent(m, location)
    contact = ghl_contact(location, phone=fresh_phone(), timezone=zone_where(DAY_HOURS))
    raw = compact(contact)
    resp = await http.post("/webhooks/ghl", content=raw, headers=signer.ghl_headers(raw))
    assert resp.status_code == 200

    lead = (
        await m.clients.ingest.GetLeadByExternalId(
            ingest_pb.GetLeadByExternalIdRequest(location_id=location, external_contact_id=contact["id"]),
            timeout=5,
        )
    ).lead
    assert (lead.first_name, lead.phone) == (contact["firstName"], contact["phone"])
    journey = await eventually(
        lambda: journey_of(m, lead.lead_id), lambda j: j.first_touch_time.seconds > 0, "the journey"
    )
    assert journey.state == pb.JOURNEY_STATE_ACTIVE
    # A CRM contact carries no written consent to automated texts: nothing goes out.
    touch = await settled_first_touch(m, lead.lead_id)
    assert touch.status == pb.COMMUNICATION_STATUS_BLOCKED
    assert "consent" in touch.status_reason

    again = await http.post("/webhooks/ghl", content=raw, headers=signer.ghl_headers(raw))
    assert again.status_code == 200
    assert len(first_touches(await comms_of(m, lead.lead_id))) == 1


async def test_stop_by_text_revokes_consent_and_blocks_what_waits(
    m: Mesh, http: httpx.AsyncClient, signer: Signer
) -> None:
    location = f"loc-{uuid.uuid4().hex[:10]}"
    await add_agent(m, location)
    phone = fresh_phone()
    lead = await add_lead(m, location, phone=phone, sms_consent=True, timezone=zone_where(NIGHT_HOURS))
    waiting = await settled_first_touch(m, lead.lead_id)
    assert waiting.status == pb.COMMUNICATION_STATUS_SCHEDULED

    sid = new_sid()
    for _ in range(3):  # Twilio may deliver the same message more than once
        resp = await text_from(http, signer, phone, "  Stop. ", sid)
        assert resp.status_code == 200
        assert "<Response>" in resp.text

    async def consent() -> pb.Consent:
        got = await m.clients.coordinator.GetConsent(pb.GetConsentRequest(lead_id=lead.lead_id), timeout=5)
        return got.consent

    assert (await eventually(consent, lambda c: c.sms_opted_out, "the opt-out")).sms_opted_out
    journey = await journey_of(m, lead.lead_id)
    assert journey.state == pb.JOURNEY_STATE_STOPPED
    comms = await eventually(
        lambda: comms_of(m, lead.lead_id),
        lambda cs: any(c.status == pb.COMMUNICATION_STATUS_BLOCKED for c in cs),
        "the waiting text to be blocked",
    )
    inbound = [c for c in comms if c.direction == pb.DIRECTION_INBOUND]
    assert [(c.status, c.body.strip()) for c in inbound] == [(pb.COMMUNICATION_STATUS_RECEIVED, "Stop.")]
    # The waiting first text and the cadence's next step, both blocked.
    assert {c.status for c in comms if c.direction == pb.DIRECTION_OUTBOUND} == {
        pb.COMMUNICATION_STATUS_BLOCKED
    }


async def test_a_reply_containing_end_stops_the_cadence_but_is_no_opt_out(
    m: Mesh, http: httpx.AsyncClient, signer: Signer
) -> None:
    location = f"loc-{uuid.uuid4().hex[:10]}"
    await add_agent(m, location)
    phone = fresh_phone()
    lead = await add_lead(m, location, phone=phone, sms_consent=True, timezone=zone_where(DAY_HOURS))
    await settled_first_touch(m, lead.lead_id)

    resp = await text_from(http, signer, phone, "I will attend the open house this weekend", new_sid())
    assert resp.status_code == 200
    journey = await eventually(
        lambda: journey_of(m, lead.lead_id), lambda j: j.state == pb.JOURNEY_STATE_STOPPED, "the stop"
    )
    assert journey.stop_reason == "lead replied"
    consent = await m.clients.coordinator.GetConsent(pb.GetConsentRequest(lead_id=lead.lead_id), timeout=5)
    assert not consent.consent.sms_opted_out
