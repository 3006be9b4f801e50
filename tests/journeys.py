"""What journey tests share: zones where it is day or night now, and mesh shortcuts."""

from __future__ import annotations

import asyncio
import random
import secrets
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import grpc
import phonenumbers
import pytest
from leadengine.common.v1 import common_pb2
from leadengine.coordinator.v1 import coordinator_service_pb2 as pb
from leadengine.ingest.v1 import ingest_service_pb2 as ingest_pb
from leadengine.routing.v1 import routing_service_pb2 as routing_pb

from tests.support import Mesh, location_of

# Spread over the globe so that, whatever the real clock says, some zone is in its
# day and some in its night.
ZONES = [
    "Pacific/Pago_Pago", "Pacific/Honolulu", "America/Anchorage", "America/Los_Angeles",
    "America/Denver", "America/Chicago", "America/New_York", "America/Halifax", "America/Sao_Paulo",
    "Atlantic/South_Georgia", "Atlantic/Azores", "UTC", "Europe/Paris", "Europe/Athens",
    "Europe/Moscow", "Asia/Dubai", "Asia/Karachi", "Asia/Dhaka", "Asia/Bangkok", "Asia/Shanghai",
    "Asia/Tokyo", "Australia/Brisbane", "Pacific/Noumea", "Pacific/Auckland", "Pacific/Tongatapu",
    "Pacific/Kiritimati",
]  # fmt: skip
# An hour's margin from 08:00 and 21:00, so a slow run cannot cross a boundary.
DAY_HOURS = range(9, 20)
NIGHT_HOURS = (22, 23, 0, 1, 2, 3, 4, 5, 6)
SMS = common_pb2.CHANNEL_SMS
# Toll-free numbers carry no area code, hence no zone or state of their own: the zone
# these tests pick (wherever it is day or night now) is the lead's only signal. A
# geographic number would add its area code's zone, and the windows' intersection.
PHONE = "+18445550100"
TOLL_FREE = "+18005550199"  # no area code, hence no zone


# A scheduler a test drives with run_once(now=later) sees every message due by then in the
# session database, other modules' included: one batch must hold them all, or the test's
# own message may wait for a later round.
TIME_TRAVEL_BATCH = 1000


def fresh_phone() -> str:
    """A valid toll-free number no other test uses: opt-outs are global per number."""
    return f"+1844{random.randint(2, 9)}{random.randint(0, 999_999):06d}"


def zone_where(hours: Any) -> str:
    now = datetime.now(UTC)
    for name in ZONES:
        if now.astimezone(ZoneInfo(name)).hour in hours:
            return name
    pytest.fail(f"no test zone has a local hour in {list(hours)} at {now:%H:%M} UTC")


async def add_agent(m: Mesh, location: str, name: str = "Ana Agent", **kw: Any) -> routing_pb.Agent:
    resp = await m.clients.routing.UpsertAgent(
        routing_pb.UpsertAgentRequest(
            agent=routing_pb.Agent(location_id=location, name=name, available=True, **kw)
        ),
        timeout=5,
    )
    return resp.agent


async def add_lead(m: Mesh, location: str, *, request_id: str | None = None, **kw: Any) -> ingest_pb.Lead:
    kw.setdefault("first_name", "Lee")
    resp = await m.clients.ingest.UpsertLead(
        ingest_pb.UpsertLeadRequest(
            lead=ingest_pb.Lead(location_id=location, **kw), request_id=request_id or str(uuid.uuid4())
        ),
        timeout=5,
    )
    return resp.lead


async def eventually(fetch: Callable[[], Any], until: Callable[[Any], bool], what: str) -> Any:
    """Poll until the outbox and the coordinator caught up (bounded: 30 s, for a loaded CI box)."""
    last: Any = None
    for _ in range(300):
        try:
            last = await fetch()
        except grpc.aio.AioRpcError as err:
            if err.code() != grpc.StatusCode.NOT_FOUND:
                raise
            last = err
        else:
            if until(last):
                return last
        await asyncio.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}; last saw {last}")


async def comms_of(m: Mesh, lead_id: str) -> list[pb.Communication]:
    resp = await m.clients.coordinator.ListCommunications(
        pb.ListCommunicationsRequest(lead_id=lead_id, location_id=await location_of(m, lead_id)), timeout=5
    )
    return list(resp.communications)


def first_touches(comms: list[pb.Communication]) -> list[pb.Communication]:
    """The messages a lead got, less the cadence steps still waiting to be written."""
    return [c for c in comms if not c.status_reason.startswith("cadence step")]


async def settled_first_touch(m: Mesh, lead_id: str) -> pb.Communication:
    """The first-touch communication (the lead's oldest: later cadence steps follow it)
    once it has left the claimed-for-sending state."""

    def done(comms: list[pb.Communication]) -> bool:
        return bool(comms) and not (
            comms[-1].status == pb.COMMUNICATION_STATUS_SCHEDULED and not comms[-1].status_reason
        )

    comms = await eventually(lambda: comms_of(m, lead_id), done, f"first touch of lead {lead_id}")
    return comms[-1]


PENDING_NOTE = (pb.COMMUNICATION_STATUS_QUEUED, pb.COMMUNICATION_STATUS_SCHEDULED)


async def notification_of(m: Mesh, lead_id: str) -> pb.Notification:
    """The agent's notification about a lead: the journey's last step, so also its end."""

    async def fetch() -> list[pb.Notification]:
        resp = await m.clients.coordinator.ListNotifications(
            pb.ListNotificationsRequest(lead_id=lead_id, location_id=await location_of(m, lead_id)), timeout=5
        )
        return list(resp.notifications)

    def done(notes: list[pb.Notification]) -> bool:
        # SCHEDULED: still on its way to the provider (or SIMULATED) in another task.
        return len(notes) == 1 and notes[0].status not in PENDING_NOTE

    notes = await eventually(fetch, done, f"the agent notification for lead {lead_id}")
    return notes[0]


async def journey_of(m: Mesh, lead_id: str) -> pb.Journey:
    resp = await m.clients.coordinator.GetJourney(
        pb.GetJourneyRequest(lead_id=lead_id, location_id=await location_of(m, lead_id)), timeout=5
    )
    return resp.journey


def unique_phone() -> str:
    """A valid toll-free number of this test's own: suppressions are shared by address."""
    while True:
        candidate = f"+1855{secrets.randbelow(8) + 2}{secrets.randbelow(10**6):06d}"
        if phonenumbers.is_valid_number(phonenumbers.parse(candidate)):
            return candidate


async def drain(scheduler: Any, now: datetime) -> None:
    """Run the scheduler as of `now` until nothing is due: the session database holds other
    tests' due messages too, and one batch may not reach the row a test watches."""
    for _ in range(200):
        if not await scheduler.run_once(now=now):
            return
    pytest.fail("the scheduler kept finding due messages")


async def handle(m: Mesh, event: pb.LeadEventEnvelope) -> pb.HandleLeadEventResponse:
    resp: pb.HandleLeadEventResponse = await m.clients.coordinator.HandleLeadEvent(
        pb.HandleLeadEventRequest(event=event), timeout=10
    )
    return resp


def inbound(lead: Any, body: str, *, address: str | None = None, sid: str | None = None, **kw: Any) -> Any:
    return pb.LeadEventEnvelope(
        event_id=str(uuid.uuid4()),
        kind=pb.LEAD_EVENT_KIND_INBOUND_MESSAGE,
        lead_id=lead.lead_id,
        location_id=lead.location_id,
        message=pb.MessageFacts(
            channel=kw.pop("channel", SMS),
            body=body,
            lead_address=lead.phone if address is None else address,
            our_address="+15125559999",
            provider_message_id=sid or f"SM{uuid.uuid4().hex}",
        ),
        **kw,
    )


async def notes_of(m: Mesh, lead_id: str) -> list[pb.Notification]:
    resp = await m.clients.coordinator.ListNotifications(
        pb.ListNotificationsRequest(lead_id=lead_id, location_id=await location_of(m, lead_id)), timeout=5
    )
    return list(resp.notifications)


async def started_lead(
    m: Mesh, *, hours: Any = DAY_HOURS, agent: bool = True, location: str = "", **kw: Any
) -> Any:
    """A lead whose journey has fully run its first steps (first touch and, with an
    agent, the assignment notification): nothing of it is still in flight."""
    loc = location or f"loc-{uuid.uuid4()}"
    if agent:
        await add_agent(m, loc, phone="+12125550123")
    kw.setdefault("phone", unique_phone())
    kw.setdefault("sms_consent", True)
    lead = await add_lead(m, loc, timezone=zone_where(hours), **kw)
    await settled_first_touch(m, lead.lead_id)
    if agent:
        for _ in range(100):
            notes = await notes_of(m, lead.lead_id)
            if notes and notes[0].status not in PENDING_NOTE:
                break
            await asyncio.sleep(0.1)
        else:
            pytest.fail("the assignment notification never settled")
    return lead
