"""What campaign tests and the enrolment benchmark share: imported leads, the mesh's own
enroller (driven with an injected clock), and campaign shortcuts."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from leadengine.coordinator.v1 import coordinator_service_pb2 as pb
from leadengine.ingest.v1 import ingest_service_pb2 as ingest_pb

from services.coordinator.campaigns.enrolment import Enroller
from shared import timestamps
from tests.support import UNKNOWN_LOCATION, Mesh


def enroller_of(m: Mesh) -> Enroller:
    """The coordinator's own enroller. The mesh runs it in the background too; campaign
    meshes poll it hourly, so tests move time only through run_once(now)."""
    for job in m.apps["coordinator"].background:
        owner = getattr(job, "__self__", None)
        if isinstance(owner, Enroller):
            return owner
    raise AssertionError("the coordinator runs no enroller")


async def import_leads(m: Mesh, location: str, leads: list[ingest_pb.Lead]) -> list[ingest_pb.Lead]:
    """ImportLeads (publishes nothing), then these leads as stored, in the given order
    (matched by phone, else email)."""
    stream = [
        ingest_pb.ImportLeadsRequest(location_id=location, lead=lead, row=i) for i, lead in enumerate(leads)
    ]
    resp = await m.clients.ingest.ImportLeads(iter(stream), timeout=120)
    assert resp.imported_count == len(leads), resp
    stored: dict[str, ingest_pb.Lead] = {}
    token = ""
    while True:
        page = await m.clients.ingest.ListLeads(
            ingest_pb.ListLeadsRequest(
                location_id=location, page_size=500, page_token=token, oldest_first=True
            ),
            timeout=30,
        )
        stored.update((lead.phone or lead.email, lead) for lead in page.leads)
        token = page.next_page_token
        if not token:
            return [stored[lead.phone or lead.email] for lead in leads]


async def start_campaign(m: Mesh, location: str, daily_limit: int, **audience: Any) -> pb.Campaign:
    resp = await m.clients.coordinator.StartCampaign(
        pb.StartCampaignRequest(
            campaign=pb.Campaign(
                location_id=location,
                name="Spring reactivation",
                daily_limit=daily_limit,
                audience=pb.CampaignAudience(**audience),
            ),
            request_id=str(uuid.uuid4()),
        ),
        timeout=10,
    )
    return resp.campaign


async def campaign_location(m: Mesh, campaign_id: str) -> str:
    """The campaign's location as stored: what a read of the campaign claims (#15)."""
    async with m.pools["coordinator"].acquire() as conn:
        found = await conn.fetchval(
            "SELECT location_id FROM coordinator.campaigns WHERE campaign_id = $1", uuid.UUID(campaign_id)
        )
    return str(found) if found else UNKNOWN_LOCATION


async def campaign_of(m: Mesh, campaign_id: str) -> pb.Campaign:
    location = await campaign_location(m, campaign_id)
    resp = await m.clients.coordinator.GetCampaign(
        pb.GetCampaignRequest(campaign_id=campaign_id, location_id=location), timeout=10
    )
    return resp.campaign


async def drain(enroller: Enroller, now: datetime) -> int:
    """Run rounds as of `now` until one finds nothing to do; how many rounds did work."""
    rounds = 0
    while await enroller.run_once(now):
        rounds += 1
    return rounds


def day_end(start: datetime, day: int) -> datetime:
    """The last moment of campaign day `day` (0-based)."""
    return start + timedelta(days=day + 1) - timedelta(seconds=1)


async def gathered(m: Mesh, location: str, daily_limit: int) -> tuple[pb.Campaign, datetime, Enroller]:
    """A started campaign whose audience the enroller has gathered (as of its start, when
    nobody is due yet), its start time, and the enroller."""
    started = await start_campaign(m, location, daily_limit)
    start = timestamps.from_proto(started.create_time)
    assert start is not None
    enroller = enroller_of(m)
    await drain(enroller, start)
    return started, start, enroller
