"""A location in suggest mode: the coordinator never sends the draft content holds for an agent's
approval, and records why. All five services in-process, real PostgreSQL."""

from __future__ import annotations

import uuid

from leadengine.content.v1 import content_service_pb2 as content_pb
from leadengine.coordinator.v1 import coordinator_service_pb2 as pb

from tests.journeys import (
    DAY_HOURS,
    PHONE,
    add_agent,
    add_lead,
    notification_of,
    settled_first_touch,
    zone_where,
)
from tests.support import Mesh


async def test_a_pending_draft_is_not_sent_and_the_step_says_why(m: Mesh) -> None:
    loc = f"loc-{uuid.uuid4()}"
    settings = content_pb.LocationContentSettings(
        location_id=loc, approval_mode=content_pb.APPROVAL_MODE_SUGGEST
    )
    await m.clients.content.SetLocationContentSettings(
        content_pb.SetLocationContentSettingsRequest(settings=settings), timeout=5
    )
    await add_agent(m, loc, phone="+12125550123")
    lead = await add_lead(m, loc, phone=PHONE, timezone=zone_where(DAY_HOURS), sms_consent=True)

    touch = await settled_first_touch(m, lead.lead_id)
    assert touch.status == pb.COMMUNICATION_STATUS_BLOCKED
    assert "ApproveMessage" in touch.status_reason
    assert not touch.body
    assert not touch.provider_message_id

    # Content holds the draft for the agent; approving it is the agent's move.
    page = await m.clients.content.GetConversation(
        content_pb.GetConversationRequest(lead_id=lead.lead_id, location_id=lead.location_id), timeout=5
    )
    pending = [x for x in page.messages if x.purpose == content_pb.MESSAGE_PURPOSE_FIRST_TOUCH]
    assert [x.status for x in pending] == [content_pb.MESSAGE_STATUS_PENDING_APPROVAL]
    assert pending[0].message_id in touch.status_reason

    # The agent is still told about the lead: notifications never wait for approval.
    note = await notification_of(m, lead.lead_id)
    assert note.status != pb.COMMUNICATION_STATUS_BLOCKED
