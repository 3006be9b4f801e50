"""Provider webhooks through the whole mesh: signed HTTP in, the lead's journey and consent out.

The real gateway (uvicorn) in front of all five real services on real PostgreSQL;
keys are generated here, the gateway holds their public halves.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from leadengine.common.v1 import common_pb2
from leadengine.coordinator.v1 import coordinator_service_pb2 as pb
from leadengine.ingest.v1 import ingest_service_pb2 as ingest_pb

from services.coordinator.compliance import basis
from tests.journeys import (
    DAY_HOURS,
    NIGHT_HOURS,
    add_agent,
    add_lead,
    comms_of,
    eventually,
    first_touches,
    fresh_phone,
    journey_of,
    settled_first_touch,
    zone_where,
)
from tests.support import Mesh, mesh
from tests.webhooks import PUBLIC_BASE, Signer, compact, gateway, ghl_contact, new_sid

OUR_NUMBER = "+15125550100"


@pytest.fixture(scope="module")
async def m(migrated_dsn: str) -> AsyncIterator[Mesh]:
    overrides = {
        "ingest": {"outbox_poll_s": 0.1},
        # Lead-facing email needs a postal address for its CAN-SPAM footer.
        "content": {"postal_address": "1 Main St, Austin, TX 78701"},
    }
    async with mesh(migrated_dsn, overrides=overrides) as running:
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


async def post_contact(
    m: Mesh, http: httpx.AsyncClient, signer: Signer, contact: dict[str, Any]
) -> ingest_pb.Lead:
    """Post a signed GHL ContactCreate; the lead ingest made of it."""
    raw = compact(contact)
    resp = await http.post("/webhooks/ghl", content=raw, headers=signer.ghl_headers(raw))
    assert resp.status_code == 200
    got = await m.clients.ingest.GetLeadByExternalId(
        ingest_pb.GetLeadByExternalIdRequest(
            location_id=contact["locationId"], external_contact_id=contact["id"]
        ),
        timeout=5,
    )
    return got.lead


async def test_ghl_contact_becomes_a_lead_with_a_journey(
    m: Mesh, http: httpx.AsyncClient, signer: Signer
) -> None:
    location = f"loc-{uuid.uuid4().hex[:10]}"
    await add_agent(m, location)
    contact = ghl_contact(location, phone=fresh_phone(), timezone=zone_where(DAY_HOURS))
    lead = await post_contact(m, http, signer, contact)
    assert (lead.first_name, lead.phone) == (contact["firstName"], contact["phone"])
    journey = await eventually(
        lambda: journey_of(m, lead.lead_id), lambda j: j.first_touch_time.seconds > 0, "the journey"
    )
    assert journey.state == pb.JOURNEY_STATE_ACTIVE
    # A CRM contact carries no consent flag, and its location set no consent tag: no
    # text, but email is lawful under CAN-SPAM.
    touch = await settled_first_touch(m, lead.lead_id)
    assert (touch.channel, touch.status) == (common_pb2.CHANNEL_EMAIL, pb.COMMUNICATION_STATUS_SIMULATED)
    consent = await m.clients.coordinator.GetConsent(
        pb.GetConsentRequest(lead_id=lead.lead_id, location_id=lead.location_id), timeout=5
    )
    assert consent.consent.sms_basis == ""

    again = await post_contact(m, http, signer, contact)  # the same body, redelivered
    assert again.lead_id == lead.lead_id
    assert len(first_touches(await comms_of(m, lead.lead_id))) == 1


async def test_ghl_contact_with_the_consent_tag_gets_its_first_text(
    m: Mesh, http: httpx.AsyncClient, signer: Signer
) -> None:
    """The issue's "done when": the location's opt-in form tags the contact in GHL."""
    location = f"loc-{uuid.uuid4().hex[:10]}"
    await add_agent(m, location)
    await m.clients.coordinator.SetConsentPolicy(
        pb.SetConsentPolicyRequest(
            location_id=location,
            policy=pb.ConsentPolicy(
                sms_consent_tags=["sms-opt-in"], attestation="Opt-in form on /contact, TCPA wording v2"
            ),
            request_id=str(uuid.uuid4()),
        ),
        timeout=5,
    )
    # No state or ZIP: Tampa's would add Florida's zones to the one picked for daytime.
    contact = ghl_contact(
        location,
        phone=fresh_phone(),
        timezone=zone_where(DAY_HOURS),
        tags=["buyer", "SMS-Opt-In"],
        state="",
        postalCode="",
    )
    lead = await post_contact(m, http, signer, contact)
    touch = await settled_first_touch(m, lead.lead_id)
    assert (touch.channel, touch.status) == (common_pb2.CHANNEL_SMS, pb.COMMUNICATION_STATUS_SIMULATED)
    assert touch.address == contact["phone"]
    consent = (
        await m.clients.coordinator.GetConsent(
            pb.GetConsentRequest(lead_id=lead.lead_id, location_id=lead.location_id), timeout=5
        )
    ).consent
    assert consent.sms_basis.startswith(
        "tag 'sms-opt-in' under policy v1 (attestation: Opt-in form on /contact, TCPA wording v2), "
    )
    assert consent.email_basis == basis.CAN_SPAM


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
        got = await m.clients.coordinator.GetConsent(
            pb.GetConsentRequest(lead_id=lead.lead_id, location_id=lead.location_id), timeout=5
        )
        return got.consent

    assert (await eventually(consent, lambda c: c.sms_opted_out, "the opt-out")).sms_opted_out
    # The revocation stops the journey in its own transaction ("opted out of every channel");
    # the inbound handler then names the cause: wait for that, not only for the stop.
    journey = await eventually(
        lambda: journey_of(m, lead.lead_id),
        lambda j: j.state == pb.JOURNEY_STATE_STOPPED and j.stop_reason == "lead opted out",
        "the stop, for the lead's opt-out",
    )
    assert journey.stop_reason == "lead opted out"

    def confirmations(cs: list[pb.Communication]) -> list[pb.Communication]:
        return [c for c in cs if c.direction == pb.DIRECTION_OUTBOUND and "unsubscribed" in c.body]

    comms = await eventually(
        lambda: comms_of(m, lead.lead_id),
        lambda cs: (
            any(c.status == pb.COMMUNICATION_STATUS_BLOCKED for c in cs)
            and any(
                c.status not in (pb.COMMUNICATION_STATUS_QUEUED, pb.COMMUNICATION_STATUS_SCHEDULED)
                for c in confirmations(cs)
            )
        ),
        "the waiting text to be blocked and the opt-out confirmed",
    )
    inbound = [c for c in comms if c.direction == pb.DIRECTION_INBOUND]
    assert [(c.status, c.body.strip()) for c in inbound] == [(pb.COMMUNICATION_STATUS_RECEIVED, "Stop.")]
    # One confirmation, for three deliveries of the STOP (no credentials: SIMULATED).
    [confirmation] = confirmations(comms)
    assert (confirmation.status, confirmation.address) == (pb.COMMUNICATION_STATUS_SIMULATED, phone)
    # The waiting first text and the cadence's next step, both blocked.
    assert {c.status for c in comms if c.direction == pb.DIRECTION_OUTBOUND and c is not confirmation} == {
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
    consent = await m.clients.coordinator.GetConsent(
        pb.GetConsentRequest(lead_id=lead.lead_id, location_id=lead.location_id), timeout=5
    )
    assert not consent.consent.sms_opted_out
