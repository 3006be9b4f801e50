"""The thin journey end to end: all five services in-process, real PostgreSQL, no mocks.

Leads go in through ingest; its outbox tells the coordinator, which scores, routes,
writes, gates and records. Quiet hours depend on the real clock, so each test picks a
zone where it is now day, or night, in the lead's local time.
"""

from __future__ import annotations

import uuid
from datetime import time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import grpc
import pytest
from google.protobuf import field_mask_pb2
from leadengine.common.v1 import common_pb2
from leadengine.coordinator.v1 import coordinator_service_pb2 as pb
from leadengine.ingest.v1 import ingest_service_pb2 as ingest_pb

from services.coordinator.compliance import gates
from services.coordinator.delivery import senders
from services.coordinator.delivery.scheduler import Scheduler
from shared import timestamps
from tests.journeys import (
    DAY_HOURS,
    NIGHT_HOURS,
    PHONE,
    TOLL_FREE,
    add_agent,
    add_lead,
    comms_of,
    drain,
    eventually,
    first_touches,
    journey_of,
    notification_of,
    settled_first_touch,
    zone_where,
)
from tests.support import UNKNOWN_LOCATION as NOWHERE
from tests.support import Mesh, location_of
from tests.support import error_reason as reason


async def test_daytime_lead_gets_a_simulated_text_and_its_agent_is_told(m: Mesh) -> None:
    loc = f"loc-{uuid.uuid4()}"
    agent = await add_agent(m, loc, phone="+12125550123")
    lead = await add_lead(m, loc, phone=PHONE, timezone=zone_where(DAY_HOURS), sms_consent=True)

    touch = await settled_first_touch(m, lead.lead_id)
    assert touch.status == pb.COMMUNICATION_STATUS_SIMULATED
    assert touch.status_reason == senders.NO_CREDENTIALS
    assert touch.channel == common_pb2.CHANNEL_SMS
    assert touch.direction == pb.DIRECTION_OUTBOUND
    assert touch.address == PHONE
    assert touch.body
    assert touch.message_id
    assert not touch.provider_message_id  # nothing reached a provider

    # The journey notes its first touch just after the message is recorded.
    journey = await eventually(
        lambda: journey_of(m, lead.lead_id), lambda j: j.HasField("first_touch_time"), "first_touch_time"
    )
    assert journey.state == pb.JOURNEY_STATE_ACTIVE
    assert journey.agent_id == agent.agent_id
    assert journey.location_id == loc

    consent = (
        await m.clients.coordinator.GetConsent(
            pb.GetConsentRequest(lead_id=lead.lead_id, location_id=lead.location_id), timeout=5
        )
    ).consent
    assert consent.sms_consent
    assert not consent.email_consent
    assert not consent.sms_opted_out

    await notification_of(m, lead.lead_id)
    notes = await m.clients.coordinator.ListNotifications(
        pb.ListNotificationsRequest(agent_id=agent.agent_id, location_id=agent.location_id), timeout=5
    )
    assert [(n.lead_id, n.channel, n.status) for n in notes.notifications] == [
        (lead.lead_id, common_pb2.CHANNEL_SMS, pb.COMMUNICATION_STATUS_SIMULATED)
    ]
    assert notes.notifications[0].body


async def test_night_lead_waits_for_eight_local_then_the_scheduler_sends_it(
    m: Mesh, scheduler: Scheduler
) -> None:
    loc = f"loc-{uuid.uuid4()}"
    await add_agent(m, loc)
    zone_name = zone_where(NIGHT_HOURS)
    zone = ZoneInfo(zone_name)
    lead = await add_lead(m, loc, phone=PHONE, timezone=zone_name, sms_consent=True)

    touch = await settled_first_touch(m, lead.lead_id)
    assert touch.status == pb.COMMUNICATION_STATUS_SCHEDULED
    opens = timestamps.from_proto(touch.scheduled_time)
    assert opens is not None
    assert opens.astimezone(zone).time() == time(8, 0)
    assert timestamps.now() < opens < timestamps.now() + timedelta(hours=11)

    await drain(scheduler, opens - timedelta(minutes=1))  # still quiet hours
    assert (await comms_of(m, lead.lead_id))[-1].status == pb.COMMUNICATION_STATUS_SCHEDULED

    await drain(scheduler, opens + timedelta(minutes=1))
    sent = (await comms_of(m, lead.lead_id))[-1]
    assert sent.communication_id == touch.communication_id
    assert sent.status == pb.COMMUNICATION_STATUS_SIMULATED
    assert sent.status_reason == senders.NO_CREDENTIALS


async def test_consent_withdrawn_before_the_window_opens_blocks_at_send_time(
    m: Mesh, scheduler: Scheduler
) -> None:
    loc = f"loc-{uuid.uuid4()}"
    await add_agent(m, loc)
    lead = await add_lead(m, loc, phone=PHONE, timezone=zone_where(NIGHT_HOURS), sms_consent=True)
    touch = await settled_first_touch(m, lead.lead_id)
    assert touch.status == pb.COMMUNICATION_STATUS_SCHEDULED

    await m.clients.ingest.UpsertLead(
        ingest_pb.UpsertLeadRequest(
            lead=ingest_pb.Lead(lead_id=lead.lead_id, location_id=loc, sms_consent=False),
            update_mask=field_mask_pb2.FieldMask(paths=["sms_consent"]),
            request_id=str(uuid.uuid4()),
        ),
        timeout=5,
    )
    await eventually(
        lambda: m.clients.coordinator.GetConsent(
            pb.GetConsentRequest(lead_id=lead.lead_id, location_id=lead.location_id), timeout=5
        ),
        lambda resp: not resp.consent.sms_consent,
        "the consent change to reach the coordinator",
    )
    opens = timestamps.from_proto(touch.scheduled_time)
    assert opens is not None
    await drain(scheduler, opens + timedelta(minutes=1))
    blocked = (await comms_of(m, lead.lead_id))[-1]
    assert blocked.status == pb.COMMUNICATION_STATUS_BLOCKED
    assert "consent" in blocked.status_reason


async def test_text_is_held_for_review_when_the_zone_is_unknown(m: Mesh) -> None:
    """Held, not dropped: SCHEDULED with the reason and no time (no scheduler claims it)."""
    loc = f"loc-{uuid.uuid4()}"
    await add_agent(m, loc)
    lead = await add_lead(m, loc, phone=TOLL_FREE, sms_consent=True)
    touch = await settled_first_touch(m, lead.lead_id)
    assert touch.status == pb.COMMUNICATION_STATUS_SCHEDULED
    assert touch.status_reason == gates.ZONE_UNKNOWN
    assert not touch.HasField("scheduled_time")
    assert touch.channel == common_pb2.CHANNEL_SMS


async def test_no_consent_means_nothing_is_sent(m: Mesh) -> None:
    """No SMS basis and no email address: no lawful channel (with an email address, email
    goes under CAN-SPAM; see test_coordinator_consent)."""
    loc = f"loc-{uuid.uuid4()}"
    await add_agent(m, loc)
    lead = await add_lead(m, loc, phone=PHONE, timezone=zone_where(DAY_HOURS))
    touch = await settled_first_touch(m, lead.lead_id)
    assert touch.status == pb.COMMUNICATION_STATUS_BLOCKED
    assert touch.status_reason == gates.NO_CONSENTED_CHANNEL
    assert not touch.body


async def test_email_when_only_email_is_allowed(m: Mesh) -> None:
    loc = f"loc-{uuid.uuid4()}"
    await add_agent(m, loc)
    # Night in the lead's zone: quiet hours hold texts, not email.
    lead = await add_lead(
        m, loc, phone=PHONE, email="lee@example.com", timezone=zone_where(NIGHT_HOURS), email_consent=True
    )
    touch = await settled_first_touch(m, lead.lead_id)
    assert touch.channel == common_pb2.CHANNEL_EMAIL
    assert touch.status == pb.COMMUNICATION_STATUS_SIMULATED
    assert touch.address == "lee@example.com"


async def test_content_refusal_is_recorded_as_blocked_and_the_agent_gets_the_template(m: Mesh) -> None:
    loc = f"loc-{uuid.uuid4()}"
    agent = await add_agent(m, loc, phone="+12125550123")
    # Fair Housing: content will not write a phrase that describes people, not homes.
    lead = await add_lead(
        m, loc, phone=PHONE, timezone=zone_where(DAY_HOURS), sms_consent=True, city="Adult Community"
    )
    touch = await settled_first_touch(m, lead.lead_id)
    assert touch.status == pb.COMMUNICATION_STATUS_BLOCKED
    assert "CONTENT_GUARDRAIL" in touch.status_reason
    assert not touch.body
    note = await notification_of(m, lead.lead_id)
    assert note.agent_id == agent.agent_id
    # The agent still hears of the lead, in our fixed words, flagged as such.
    assert note.status == pb.COMMUNICATION_STATUS_SIMULATED
    assert "CONTENT_GUARDRAIL" in note.template_reason
    assert "Adult Community" not in note.body


async def test_repeated_upsert_makes_one_lead_and_one_message(m: Mesh) -> None:
    loc = f"loc-{uuid.uuid4()}"
    await add_agent(m, loc)
    request_id = str(uuid.uuid4())
    first = await add_lead(
        m, loc, request_id=request_id, phone=PHONE, timezone=zone_where(DAY_HOURS), sms_consent=True
    )
    again = await add_lead(
        m, loc, request_id=request_id, phone=PHONE, timezone=zone_where(DAY_HOURS), sms_consent=True
    )
    assert again.lead_id == first.lead_id
    leads = await m.clients.ingest.ListLeads(ingest_pb.ListLeadsRequest(location_id=loc), timeout=5)
    assert [x.lead_id for x in leads.leads] == [first.lead_id]
    await settled_first_touch(m, first.lead_id)
    assert len(first_touches(await comms_of(m, first.lead_id))) == 1


async def test_delete_stops_the_journey_and_blocks_what_waits(m: Mesh, scheduler: Scheduler) -> None:
    loc = f"loc-{uuid.uuid4()}"
    await add_agent(m, loc)
    lead = await add_lead(m, loc, phone=PHONE, timezone=zone_where(NIGHT_HOURS), sms_consent=True)
    touch = await settled_first_touch(m, lead.lead_id)
    assert touch.status == pb.COMMUNICATION_STATUS_SCHEDULED

    await m.clients.ingest.DeleteLead(
        ingest_pb.DeleteLeadRequest(
            lead_id=lead.lead_id, location_id=lead.location_id, request_id=str(uuid.uuid4())
        ),
        timeout=5,
    )
    journey = await eventually(
        lambda: journey_of(m, lead.lead_id),
        lambda j: j.state == pb.JOURNEY_STATE_STOPPED,
        "the journey to stop",
    )
    assert journey.stop_reason == "lead deleted"
    blocked = (await comms_of(m, lead.lead_id))[-1]
    assert blocked.status == pb.COMMUNICATION_STATUS_BLOCKED
    assert blocked.status_reason == "journey stopped: lead deleted"

    opens = timestamps.from_proto(touch.scheduled_time)
    assert opens is not None
    await drain(scheduler, opens + timedelta(minutes=1))
    assert (await comms_of(m, lead.lead_id))[-1].status == pb.COMMUNICATION_STATUS_BLOCKED


async def test_duplicate_event_changes_nothing(m: Mesh) -> None:
    loc = f"loc-{uuid.uuid4()}"
    await add_agent(m, loc)
    lead = await add_lead(m, loc, phone=PHONE, timezone=zone_where(DAY_HOURS), sms_consent=True)
    await settled_first_touch(m, lead.lead_id)

    event = pb.LeadEventEnvelope(
        event_id=str(uuid.uuid4()),
        kind=pb.LEAD_EVENT_KIND_LEAD_CREATED,
        lead_id=lead.lead_id,
        location_id=loc,
    )
    first = await m.clients.coordinator.HandleLeadEvent(pb.HandleLeadEventRequest(event=event), timeout=10)
    assert not first.duplicate
    second = await m.clients.coordinator.HandleLeadEvent(pb.HandleLeadEventRequest(event=event), timeout=10)
    assert second.duplicate
    assert second.journey == first.journey
    assert len(first_touches(await comms_of(m, lead.lead_id))) == 1  # a replayed creation never texts twice

    # A deletion the coordinator hears before any creation stops the journey for good.
    ghost = str(uuid.uuid4())
    gone = pb.LeadEventEnvelope(
        event_id=str(uuid.uuid4()), kind=pb.LEAD_EVENT_KIND_LEAD_DELETED, lead_id=ghost, location_id=loc
    )
    stopped = await m.clients.coordinator.HandleLeadEvent(pb.HandleLeadEventRequest(event=gone), timeout=10)
    assert (stopped.duplicate, stopped.journey.state) == (False, pb.JOURNEY_STATE_STOPPED)
    again = await m.clients.coordinator.HandleLeadEvent(pb.HandleLeadEventRequest(event=gone), timeout=10)
    assert again.duplicate
    assert again.journey == stopped.journey


async def test_without_an_available_agent_the_lead_is_still_contacted(m: Mesh) -> None:
    loc = f"loc-{uuid.uuid4()}"  # no agents at all
    lead = await add_lead(m, loc, phone=PHONE, timezone=zone_where(DAY_HOURS), sms_consent=True)
    touch = await settled_first_touch(m, lead.lead_id)
    assert touch.status == pb.COMMUNICATION_STATUS_SIMULATED
    journey = await journey_of(m, lead.lead_id)
    assert journey.state == pb.JOURNEY_STATE_ACTIVE
    assert journey.agent_id == ""
    assert "no agent" in journey.agent_reason
    notes = await m.clients.coordinator.ListNotifications(
        pb.ListNotificationsRequest(lead_id=lead.lead_id, location_id=lead.location_id), timeout=5
    )
    assert list(notes.notifications) == []


async def test_notifications_page_newest_first(m: Mesh) -> None:
    loc = f"loc-{uuid.uuid4()}"
    agent = await add_agent(m, loc, email="ana@example.com")  # no phone: notified by email
    leads = []
    for _ in range(3):
        lead = await add_lead(m, loc, phone=PHONE, timezone=zone_where(DAY_HOURS), sms_consent=True)
        await notification_of(m, lead.lead_id)
        leads.append(lead.lead_id)
    seen: list[str] = []
    token = ""
    while True:
        page = await m.clients.coordinator.ListNotifications(
            pb.ListNotificationsRequest(
                agent_id=agent.agent_id, location_id=agent.location_id, page_size=2, page_token=token
            ),
            timeout=5,
        )
        assert len(page.notifications) <= 2
        assert all(n.channel == common_pb2.CHANNEL_EMAIL for n in page.notifications)
        seen.extend(n.lead_id for n in page.notifications)
        token = page.next_page_token
        if not token:
            break
    assert seen == list(reversed(leads))
    both = await m.clients.coordinator.ListNotifications(
        pb.ListNotificationsRequest(
            agent_id=agent.agent_id, lead_id=leads[0], location_id=await location_of(m, leads[0])
        ),
        timeout=5,
    )
    assert [n.lead_id for n in both.notifications] == [leads[0]]


@pytest.mark.parametrize(
    ("call", "request_", "code", "why"),
    [
        ("HandleLeadEvent", pb.HandleLeadEventRequest(event=pb.LeadEventEnvelope(
            event_id="e1", kind=pb.LEAD_EVENT_KIND_LEAD_CREATED, lead_id="not-a-uuid")),
         grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ID"),
        ("HandleLeadEvent", pb.HandleLeadEventRequest(event=pb.LeadEventEnvelope(
            event_id="e2", lead_id=str(uuid.uuid4()))),
         grpc.StatusCode.INVALID_ARGUMENT, "MISSING_FIELD"),
        ("HandleLeadEvent", pb.HandleLeadEventRequest(event=pb.LeadEventEnvelope(
            kind=pb.LEAD_EVENT_KIND_BEHAVIOR, lead_id=str(uuid.uuid4()))),
         grpc.StatusCode.INVALID_ARGUMENT, "MISSING_FIELD"),
        ("GetJourney", pb.GetJourneyRequest(lead_id=str(uuid.uuid4()), location_id=NOWHERE),
         grpc.StatusCode.NOT_FOUND, "JOURNEY_NOT_FOUND"),
        ("GetConsent", pb.GetConsentRequest(lead_id=str(uuid.uuid4()), location_id=NOWHERE),
         grpc.StatusCode.NOT_FOUND, "LEAD_NOT_FOUND"),
        ("ListNotifications", pb.ListNotificationsRequest(), grpc.StatusCode.INVALID_ARGUMENT,
         "MISSING_FIELD"),
        ("ListCommunications", pb.ListCommunicationsRequest(
            lead_id=str(uuid.uuid4()), page_token="junk", location_id=NOWHERE),
         grpc.StatusCode.INVALID_ARGUMENT, "INVALID_PAGE_TOKEN"),
        ("ListCommunications", pb.ListCommunicationsRequest(
            lead_id=str(uuid.uuid4()), page_size=-1, location_id=NOWHERE),
         grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT"),
    ],
)  # fmt: skip
async def test_bad_requests_are_refused_with_a_reason(
    m: Mesh, call: str, request_: Any, code: grpc.StatusCode, why: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await getattr(m.clients.coordinator, call)(request_, timeout=5)
    assert exc.value.code() == code
    assert reason(exc.value) == why


async def test_unknown_lead_event_is_not_marked_handled(m: Mesh) -> None:
    lead_id = str(uuid.uuid4())  # ingest has never heard of it
    event = pb.LeadEventEnvelope(
        event_id=str(uuid.uuid4()), kind=pb.LEAD_EVENT_KIND_LEAD_CREATED, lead_id=lead_id, location_id="x"
    )
    for _ in range(2):  # still refused on redelivery: the failure did not mark it handled
        with pytest.raises(grpc.aio.AioRpcError) as exc:
            await m.clients.coordinator.HandleLeadEvent(pb.HandleLeadEventRequest(event=event), timeout=10)
        assert exc.value.code() == grpc.StatusCode.NOT_FOUND
        assert reason(exc.value) == "LEAD_NOT_FOUND"
    with pytest.raises(grpc.aio.AioRpcError):
        await journey_of(m, lead_id)
