"""Tenant isolation, webhook side: provider webhooks that name location A, signed as the
provider signs them, cannot touch location B's leads, even when they carry B's contact id
or B's lead's phone number. Real gateway (uvicorn) in front of all five real services."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

import asyncpg
import httpx
import pytest
from leadengine.coordinator.v1 import coordinator_service_pb2 as pb
from leadengine.ingest.v1 import ingest_service_pb2 as ingest_pb

from tests.databases import own_database
from tests.isolation.tenants import Tenant, seed
from tests.journeys import eventually
from tests.support import Mesh, mesh
from tests.webhooks import PUBLIC_BASE, Signer, compact, gateway, new_sid, now_iso

QUESTION = "Is the house on Elm still available?"


@pytest.fixture(scope="module")
async def dsn(postgres_url: str) -> AsyncIterator[str]:
    """A database of the module's own: the session database may hold other modules' unpublished
    outbox rows (the webhook storm's, say), which this mesh's relay would have to deliver first."""
    async with own_database(postgres_url) as own:
        yield own


@pytest.fixture(scope="module")
async def m(dsn: str) -> AsyncIterator[Mesh]:
    overrides = {
        "ingest": {"outbox_poll_s": 0.1},
        "content": {"postal_address": "1 Main St, Austin, TX 78701"},
    }
    async with mesh(dsn, overrides=overrides) as running:
        yield running


@pytest.fixture(scope="module")
def signer() -> Signer:
    return Signer()


@pytest.fixture(scope="module")
async def http(m: Mesh, signer: Signer) -> AsyncIterator[httpx.AsyncClient]:
    async with gateway(signer.config(m.addr["ingest"], ingest_timeout_s=30.0)) as url:
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:
            yield client


async def post_ghl(http: httpx.AsyncClient, signer: Signer, body: dict[str, Any]) -> None:
    raw = compact({"webhookId": str(uuid.uuid4()), "timestamp": now_iso(), **body})
    resp = await http.post("/webhooks/ghl", content=raw, headers=signer.ghl_headers(raw))
    assert resp.status_code == 200, resp.text


async def post_text(http: httpx.AsyncClient, signer: Signer, sender: str, to: str, body: str) -> None:
    params = [("MessageSid", new_sid()), ("From", sender), ("To", to), ("Body", body), ("NumMedia", "0")]
    resp = await http.post(
        "/webhooks/twilio/sms",
        content=urlencode(params).encode(),
        headers=signer.twilio_headers(f"{PUBLIC_BASE}/webhooks/twilio/sms", params),
    )
    assert resp.status_code == 200, resp.text


async def journey(m: Mesh, t: Tenant) -> pb.Journey:
    got = await m.clients.coordinator.GetJourney(
        pb.GetJourneyRequest(lead_id=t.lead_id, location_id=t.location), timeout=5
    )
    return got.journey


async def test_webhooks_for_one_location_cannot_touch_the_others_leads(
    m: Mesh, http: httpx.AsyncClient, signer: Signer, dsn: str
) -> None:
    a, b = await seed(m, "a", variant=0), await seed(m, "b", variant=1)
    before = (
        await m.clients.ingest.GetLead(
            ingest_pb.GetLeadRequest(lead_id=b.lead_id, location_id=b.location), timeout=5
        )
    ).lead

    # HighLevel events naming A's location but B's contact id: an update, a reply, a deletion.
    await post_ghl(
        http,
        signer,
        {"type": "ContactUpdate", "locationId": a.location, "id": b.external_id, "firstName": "Mallory"},
    )
    await post_ghl(
        http,
        signer,
        {
            "type": "InboundMessage",
            "locationId": a.location,
            "contactId": b.external_id,
            "messageType": "SMS",
            "direction": "inbound",
            "body": QUESTION,
            "messageId": f"Mg{uuid.uuid4().hex}",
            "dateAdded": now_iso(),
        },
    )
    await post_ghl(http, signer, {"type": "ContactDelete", "locationId": a.location, "id": b.external_id})
    # A text from B's lead's phone to A's number: A owns the number, and A has no lead with it.
    await post_text(http, signer, b.lead.phone, a.sms_number, QUESTION)

    # The control: the same reply from A's own lead stops A's journey...
    await post_text(http, signer, a.lead.phone, a.sms_number, QUESTION)
    stopped = await eventually(
        lambda: journey(m, a), lambda j: j.state == pb.JOURNEY_STATE_STOPPED, "A's own reply to stop A"
    )
    assert stopped.stop_reason == "lead replied"
    # ...and the coordinator has acknowledged every event ingest made of these webhooks.
    conn = await asyncpg.connect(dsn)
    try:
        await eventually(
            lambda: conn.fetchval(
                "SELECT count(*) FROM ingest.outbox WHERE location_id = ANY($1::text[])"
                " AND published_time IS NULL",
                [a.location, b.location],
            ),
            lambda pending: pending == 0,
            "the outbox to deliver every event of both locations",
        )
    finally:
        await conn.close()

    after = (
        await m.clients.ingest.GetLead(
            ingest_pb.GetLeadRequest(lead_id=b.lead_id, location_id=b.location), timeout=5
        )
    ).lead
    assert after == before  # not renamed, not deleted, not touched at all
    assert (await journey(m, b)).state == pb.JOURNEY_STATE_ACTIVE
    comms = await m.clients.coordinator.ListCommunications(
        pb.ListCommunicationsRequest(lead_id=b.lead_id, location_id=b.location), timeout=5
    )
    assert [c for c in comms.communications if c.direction == pb.DIRECTION_INBOUND] == []
    # A's namespace took the HighLevel contact as its own (A may know the same person).
    mine = await m.clients.ingest.ListLeads(ingest_pb.ListLeadsRequest(location_id=a.location), timeout=5)
    assert b.lead_id not in {lead.lead_id for lead in mine.leads}
