"""A new HighLevel contact at a location with the app installed, through the whole mesh:
enriched from the fake HighLevel's GET /contacts before its first touch (time zone, DND,
custom fields), or not when HighLevel is slow; the first touch goes out through HighLevel
with the location's token, and HighLevel's OutboundMessage status moves it to DELIVERED."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
from cryptography.fernet import Fernet
from leadengine.common.v1 import common_pb2
from leadengine.coordinator.v1 import coordinator_service_pb2 as pb
from leadengine.ingest.v1 import ingest_service_pb2 as ingest_pb

from cli import fake_providers
from cli.fake_providers import FakeProviders
from services.coordinator.delivery.provider_config import ProviderConfig
from services.gateway.serving import running_gateway
from tests.journeys import (
    DAY_HOURS,
    add_agent,
    add_lead,
    eventually,
    settled_first_touch,
    unique_phone,
    zone_where,
)
from tests.support import Mesh, location_of, mesh
from tests.webhooks import Signer, compact, now_iso


def app_env(base: str) -> dict[str, str]:
    env = fake_providers.env_for(base)
    del env["HIGHLEVEL_ACCESS_TOKEN"]
    return env | {
        "HIGHLEVEL_CLIENT_ID": fake_providers.HIGHLEVEL_CLIENT_ID,
        "HIGHLEVEL_CLIENT_SECRET": fake_providers.HIGHLEVEL_CLIENT_SECRET,
        "HIGHLEVEL_TOKEN_KEYS": Fernet.generate_key().decode(),
        "HIGHLEVEL_OAUTH_STATE_KEY": secrets.token_urlsafe(32),
        "HIGHLEVEL_ENRICH_TIMEOUT_S": "0.5",
        "COORDINATOR_SEND_BACKOFF_S": "0.01",
    }


@pytest.fixture(scope="module")
async def rig(migrated_dsn: str) -> AsyncIterator[tuple[Mesh, FakeProviders, httpx.AsyncClient, Signer]]:
    async with fake_providers.running_fakes() as (fakes, base):
        overrides: dict[str, dict[str, Any]] = {
            "ingest": {"outbox_poll_s": 0.1},
            "content": {"postal_address": "1 Main St, Austin, TX 78701"},
            "coordinator": {"providers": ProviderConfig.from_env(app_env(base)), "scheduler_poll_s": 0.1},
        }
        async with mesh(migrated_dsn, overrides=overrides) as m:
            signer = Signer()
            gcfg = signer.config(m.addr["ingest"], coordinator_addr=m.addr["coordinator"])
            async with running_gateway(gcfg, access_log=False) as url, httpx.AsyncClient(base_url=url) as gw:
                yield m, fakes, gw, signer


@pytest.fixture(autouse=True)
def clean_fakes(rig: tuple[Mesh, FakeProviders, httpx.AsyncClient, Signer]) -> None:
    rig[1].contact_delay_s = 0.0


async def installed_location(m: Mesh, fakes: FakeProviders) -> str:
    location = f"loc-{uuid.uuid4().hex[:10]}"
    await add_agent(m, location, phone="+12125550123")
    await m.clients.coordinator.SetDeliverySettings(
        pb.SetDeliverySettingsRequest(
            settings=pb.DeliverySettings(location_id=location, sms_provider="highlevel")
        ),
        timeout=5,
    )
    started = await m.clients.coordinator.StartHighLevelInstall(pb.StartHighLevelInstallRequest(), timeout=5)
    await m.clients.coordinator.CompleteHighLevelInstall(
        pb.CompleteHighLevelInstallRequest(code=fakes.oauth.issue_code(location), state=started.state),
        timeout=10,
    )
    return location


async def timeline_entries(m: Mesh, lead_id: str, kind: str) -> list[pb.TimelineEntry]:
    got = await m.clients.coordinator.GetLeadTimeline(
        pb.GetLeadTimelineRequest(lead_id=lead_id, page_size=100, location_id=await location_of(m, lead_id)),
        timeout=5,
    )
    return [e for e in got.entries if e.kind == kind]


async def consent_of(m: Mesh, lead_id: str) -> pb.Consent:
    got = await m.clients.coordinator.GetConsent(
        pb.GetConsentRequest(lead_id=lead_id, location_id=await location_of(m, lead_id)), timeout=5
    )
    return got.consent


async def consent_zone(dsn: str, lead_id: str) -> str:
    """The zone on the coordinator's consent record (what the send window is computed in)."""
    conn = await asyncpg.connect(dsn, server_settings={"search_path": "coordinator"})
    try:
        zone: str = await conn.fetchval(
            "SELECT timezone FROM consents WHERE lead_id = $1", uuid.UUID(lead_id)
        )
    finally:
        await conn.close()
    return zone


async def test_contact_enriched_before_first_touch_which_goes_through_highlevel_and_is_delivered(
    rig: tuple[Mesh, FakeProviders, httpx.AsyncClient, Signer], migrated_dsn: str
) -> None:
    m, fakes, gw, signer = rig
    location = await installed_location(m, fakes)
    contact = f"ct-{uuid.uuid4().hex[:10]}"
    # A toll-free number carries no zone: only the contact's time zone places the lead in its day.
    zone = zone_where(DAY_HOURS)
    fakes.contacts[contact] = {
        "timezone": zone,
        "dnd": False,
        "dndSettings": {"Email": {"status": "active", "message": "asked in person", "code": ""}},
        "customFields": [{"id": "cf-budget", "value": "650000"}],
    }
    lead = await add_lead(
        m,
        location,
        external_contact_id=contact,
        phone=unique_phone(),
        sms_consent=True,
        email=f"lead-{uuid.uuid4().hex[:10]}@example.com",
    )
    touch = await settled_first_touch(m, lead.lead_id)
    assert contact in fakes.contact_reads
    # The consent the first touch was gated on already had the contact's zone and email DND.
    assert await consent_zone(migrated_dsn, lead.lead_id) == zone
    assert (await consent_of(m, lead.lead_id)).email_opted_out
    assert (touch.channel, touch.status) == (common_pb2.CHANNEL_SMS, pb.COMMUNICATION_STATUS_QUEUED), touch
    token = fakes.highlevel_tokens[touch.provider_message_id]
    assert token in fakes.oauth.access  # the location's own token, not an env token
    stored = await m.clients.ingest.GetLead(
        ingest_pb.GetLeadRequest(lead_id=lead.lead_id, location_id=lead.location_id), timeout=5
    )
    assert (stored.lead.timezone, stored.lead.email_dnd) == (zone, True)
    assert stored.lead.custom_fields["cf-budget"] == "650000"
    [entry] = await timeline_entries(m, lead.lead_id, "contact_enrichment")
    assert entry.details["outcome"] == "enriched"

    # HighLevel reports the message delivered (OutboundMessage carries its status).
    body = {
        "type": "OutboundMessage",
        "locationId": location,
        "contactId": contact,
        "conversationId": f"conv-{contact}",
        "messageId": touch.provider_message_id,
        "messageType": "SMS",
        "direction": "outbound",
        "body": touch.body,
        "status": "delivered",
        "dateAdded": now_iso(),
        "webhookId": str(uuid.uuid4()),
        "timestamp": now_iso(),
    }
    raw = compact(body)
    resp = await gw.post("/webhooks/ghl", content=raw, headers=signer.ghl_headers(raw))
    assert resp.status_code == 200, resp.text

    async def status() -> int:
        got = await m.clients.coordinator.ListCommunications(
            pb.ListCommunicationsRequest(lead_id=lead.lead_id, location_id=lead.location_id), timeout=5
        )
        return next(c.status for c in got.communications if c.communication_id == touch.communication_id)

    await eventually(status, lambda s: s == pb.COMMUNICATION_STATUS_DELIVERED, "HighLevel's delivered status")


async def test_a_slow_contacts_api_is_given_up_on_and_the_lead_goes_on(
    rig: tuple[Mesh, FakeProviders, httpx.AsyncClient, Signer], migrated_dsn: str
) -> None:
    m, fakes, _, _ = rig
    location = await installed_location(m, fakes)
    contact = f"ct-{uuid.uuid4().hex[:10]}"
    fakes.contacts[contact] = {"dndSettings": {"Email": {"status": "active"}}, "timezone": "Asia/Tokyo"}
    fakes.contact_delay_s = 2.0  # HIGHLEVEL_ENRICH_TIMEOUT_S is 0.5
    lead = await add_lead(
        m,
        location,
        external_contact_id=contact,
        phone=unique_phone(),
        email=f"lead-{uuid.uuid4().hex[:10]}@example.com",
        timezone="America/Chicago",
    )
    touch = await settled_first_touch(m, lead.lead_id)
    assert touch.communication_id
    assert contact in fakes.contact_reads
    assert not (await consent_of(m, lead.lead_id)).email_opted_out  # HighLevel's answer never came
    assert await consent_zone(migrated_dsn, lead.lead_id) == "America/Chicago"
    [entry] = await timeline_entries(m, lead.lead_id, "contact_enrichment")
    assert entry.details["outcome"] == "skipped"
    assert "longer than" in entry.details["reason"]


async def test_a_contact_ingest_refuses_to_store_still_gates_the_first_touch(
    rig: tuple[Mesh, FakeProviders, httpx.AsyncClient, Signer],
) -> None:
    m, fakes, _, _ = rig
    location = await installed_location(m, fakes)
    contact = f"ct-{uuid.uuid4().hex[:10]}"
    fakes.contacts[contact] = {
        "dndSettings": {"Email": {"status": "active"}},
        "customFields": [{"id": "cf-notes", "value": "x" * 40_000}],  # past ingest's JSON limit
    }
    lead = await add_lead(
        m,
        location,
        external_contact_id=contact,
        phone=unique_phone(),
        email=f"lead-{uuid.uuid4().hex[:10]}@example.com",
        timezone="America/Chicago",
    )
    touch = await settled_first_touch(m, lead.lead_id)
    assert touch.communication_id
    assert (await consent_of(m, lead.lead_id)).email_opted_out
    [entry] = await timeline_entries(m, lead.lead_id, "contact_enrichment")
    assert (entry.details["outcome"], entry.details["stored"]) == ("enriched", False)
    assert "FIELD_TOO_LARGE" in entry.details["store_error"]
