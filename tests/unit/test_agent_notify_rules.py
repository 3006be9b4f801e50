"""Where an agent's notifications go, the fixed texts used when content cannot write one,
and how a notification on its way reads in the timeline. Pure."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from leadengine.common.v1 import common_pb2
from leadengine.coordinator.v1 import coordinator_service_pb2 as pb
from leadengine.ingest.v1 import ingest_service_pb2 as ingest_pb
from leadengine.routing.v1 import routing_service_pb2 as routing_pb

from services.coordinator.notifications import notifier, templates
from services.coordinator.timeline import entries
from services.coordinator.timeline.repository import Decision
from services.routing import agents
from shared.errors import InvalidArgument

SMS, EMAIL, NONE_CH = common_pb2.CHANNEL_SMS, common_pb2.CHANNEL_EMAIL, common_pb2.CHANNEL_UNSPECIFIED
PHONE, MAIL = "+15125550123", "ana@example.com"
R = routing_pb


@pytest.mark.parametrize(
    ("choice", "phone", "email", "expected"),
    [
        (R.AGENT_NOTIFY_CHANNEL_UNSPECIFIED, PHONE, MAIL, (SMS, PHONE, MAIL, "")),
        (R.AGENT_NOTIFY_CHANNEL_UNSPECIFIED, "", MAIL, (EMAIL, MAIL, "", "")),
        (R.AGENT_NOTIFY_CHANNEL_SMS, PHONE, MAIL, (SMS, PHONE, MAIL, "")),
        (R.AGENT_NOTIFY_CHANNEL_EMAIL, PHONE, MAIL, (EMAIL, MAIL, "", "")),
        (R.AGENT_NOTIFY_CHANNEL_NONE, PHONE, MAIL, (NONE_CH, "", "", notifier.TURNED_OFF)),
    ],
)
def test_the_agents_choice_decides_the_channel(
    choice: int, phone: str, email: str, expected: tuple[int, str, str, str]
) -> None:
    agent = routing_pb.Agent(phone=phone, email=email, notify_channel=choice)  # type: ignore[arg-type]
    target = notifier.agent_target(agent)
    assert target is not None
    assert (target.channel, target.address, target.fallback_email, target.blocked) == expected


def test_an_agent_with_no_contact_has_no_target() -> None:
    assert notifier.agent_target(routing_pb.Agent()) is None


@pytest.mark.parametrize(
    ("choice", "phone", "email"),
    [(agents.NOTIFY_SMS, "", MAIL), (agents.NOTIFY_EMAIL, PHONE, ""), (9, PHONE, MAIL)],
)
def test_routing_refuses_a_preference_nothing_can_honour(choice: int, phone: str, email: str) -> None:
    with pytest.raises(InvalidArgument) as exc:
        agents.agent_fields(
            location_id="loc",
            external_user_id="",
            name="Ana",
            email=email,
            phone=phone,
            timezone="America/Chicago",
            capacity=0,
            available=True,
            notify_channel=choice,
        )
    assert exc.value.reason == "INVALID_AGENT"


def test_the_fixed_new_lead_text_names_the_lead_score_and_how_to_reach_them() -> None:
    lead = ingest_pb.Lead(first_name="Dana", last_name="Reyes", phone="+15125550177")
    subject, body = templates.new_lead(lead, 81.6)
    assert subject == "New lead: Dana Reyes"
    assert "score 82/100" in body
    assert "+15125550177" in body


def test_contents_words_get_the_leads_phone_once() -> None:
    lead = ingest_pb.Lead(first_name="Dana", phone="+15125550177")
    once = templates.with_contact("New lead Dana.", lead)
    assert once.endswith("Reach them at +15125550177.")
    assert templates.with_contact(once, lead) == once


def test_a_notification_on_its_way_reads_as_sending_in_the_timeline() -> None:
    entry = Decision(
        1,
        uuid.uuid4(),
        "notification",
        {
            "channel": SMS,
            "step_key": "assigned",
            "status": pb.COMMUNICATION_STATUS_SCHEDULED,
            "status_reason": "",
        },
        datetime.now(UTC),
    )
    assert entries.summarize(entry) == ("notification", "agent notification (assigned) by SMS: sending")
