"""Messages name the location's brand and carry its postal address (issue #8): all five
services in-process on real PostgreSQL; the location is set with IngestService.UpdateLocation
and the coordinator reads it through ingest."""

from __future__ import annotations

import uuid

from leadengine.common.v1 import common_pb2
from leadengine.content.v1 import content_service_pb2 as content_pb
from leadengine.coordinator.v1 import coordinator_service_pb2 as pb
from leadengine.ingest.v1 import ingest_service_pb2 as ingest_pb

from services.coordinator.journeys.branding import BrandedContent, Branding, LocationBranding
from shared.clients import ContentClient, IngestClient, Peers, Refused
from tests.journeys import (
    DAY_HOURS,
    add_agent,
    add_lead,
    comms_of,
    eventually,
    settled_first_touch,
    unique_phone,
    zone_where,
)
from tests.support import Mesh

SMS, EMAIL = common_pb2.CHANNEL_SMS, common_pb2.CHANNEL_EMAIL
BRAND = "Hill Country Homes"
POSTAL = "9 Elm St, Suite 4, Round Rock, TX 78664"
DEFAULT_POSTAL = "1 Main St, Austin, TX 78701"  # content's configured default in the `m` mesh


async def set_profile(m: Mesh, location_id: str, **fields: str) -> None:
    await m.clients.ingest.UpdateLocation(
        ingest_pb.UpdateLocationRequest(location=ingest_pb.Location(location_id=location_id, **fields)),
        timeout=5,
    )


async def lead_in(m: Mesh, location_id: str) -> ingest_pb.Lead:
    await add_agent(m, location_id, name="Ana Agent", phone="+12125550123")
    return await add_lead(
        m,
        location_id,
        phone=unique_phone(),
        email=f"lee-{uuid.uuid4().hex[:10]}@example.com",
        sms_consent=True,
        timezone=zone_where(DAY_HOURS),
    )


async def written_email(m: Mesh, lead_id: str) -> pb.Communication:
    """The cadence's immediate email step, once the scheduler has had content write it."""

    def done(comms: list[pb.Communication]) -> bool:
        return any(c.channel == EMAIL and c.body for c in comms)

    comms = await eventually(lambda: comms_of(m, lead_id), done, f"the email step of {lead_id}")
    return next(c for c in comms if c.channel == EMAIL and c.body)


async def test_messages_name_the_locations_brand_and_carry_its_postal_address(m: Mesh) -> None:
    loc = f"loc-{uuid.uuid4()}"
    await set_profile(m, loc, brand_name=BRAND, postal_address=POSTAL)
    lead = await lead_in(m, loc)
    touch = await settled_first_touch(m, lead.lead_id)
    assert (touch.channel, touch.status) == (SMS, pb.COMMUNICATION_STATUS_SIMULATED)
    assert BRAND in touch.body
    email = await written_email(m, lead.lead_id)
    assert POSTAL in email.body
    assert DEFAULT_POSTAL not in email.body
    assert BRAND in email.body


async def test_a_location_without_a_profile_keeps_the_defaults(m: Mesh) -> None:
    loc = f"loc-{uuid.uuid4()}"
    lead = await lead_in(m, loc)
    touch = await settled_first_touch(m, lead.lead_id)
    assert "LeadEngine" in touch.body  # COORDINATOR_BRAND_NAME's default
    email = await written_email(m, lead.lead_id)
    assert DEFAULT_POSTAL in email.body


async def test_profiles_are_kept_for_the_ttl_then_read_again(m: Mesh) -> None:
    now = [1000.0]
    branding = LocationBranding(IngestClient(m.clients), ttl_s=30.0, clock=lambda: now[0])
    loc = f"loc-{uuid.uuid4()}"
    assert await branding.of(loc) == Branding()  # unknown to ingest: the defaults
    await set_profile(m, loc, brand_name=BRAND)
    assert await branding.of(loc) == Branding()  # the cached answer, within the TTL
    now[0] += 31.0
    assert await branding.of(loc) == Branding(brand_name=BRAND)
    await set_profile(m, loc, postal_address=POSTAL)
    now[0] += 29.0
    assert await branding.of(loc) == Branding(brand_name=BRAND)
    now[0] += 2.0
    assert await branding.of(loc) == Branding(brand_name=BRAND, postal_address=POSTAL)


class RecordingContent(ContentClient):
    """A ContentClient that keeps the requests it passed on (stands for one that logs them)."""

    def __init__(self, peers: Peers) -> None:
        super().__init__(peers)
        self.requests: list[content_pb.GenerateMessageRequest] = []

    async def generate_message(
        self, request: content_pb.GenerateMessageRequest
    ) -> content_pb.Message | Refused:
        self.requests.append(request)
        return await super().generate_message(request)


async def test_branding_wraps_another_content_client(m: Mesh) -> None:
    loc = f"loc-{uuid.uuid4()}"
    await set_profile(m, loc, brand_name=BRAND, postal_address=POSTAL)
    inner = RecordingContent(m.clients)
    content = BrandedContent(m.clients, LocationBranding(IngestClient(m.clients), ttl_s=30.0), inner=inner)
    written = await content.generate_message(
        content_pb.GenerateMessageRequest(
            lead_id=str(uuid.uuid4()),
            location_id=loc,
            channel=EMAIL,
            purpose=content_pb.MESSAGE_PURPOSE_FIRST_TOUCH,
            context=content_pb.MessageContext(lead_first_name="Ada", brand_name="LeadEngine"),
        )
    )
    assert not isinstance(written, Refused)
    assert POSTAL in written.body
    [seen] = inner.requests
    assert (seen.context.brand_name, seen.context.postal_address) == (BRAND, POSTAL)
