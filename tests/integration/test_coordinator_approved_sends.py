"""Suggest mode to the lead's phone: the draft waits, an agent approves it (edited or not), and
SendApprovedMessage puts exactly that text through the fake Twilio once, however often it is
asked; a lead who opted out meanwhile gets nothing and the step says why. All five services
in-process, real PostgreSQL, the real Twilio client against the local fake."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from leadengine.content.v1 import content_service_pb2 as content_pb
from leadengine.coordinator.v1 import coordinator_service_pb2 as pb

from cli import fake_providers
from cli.fake_providers import FakeProviders
from services.coordinator.delivery.provider_config import ProviderConfig
from tests.journeys import (
    DAY_HOURS,
    add_agent,
    add_lead,
    eventually,
    handle,
    inbound,
    journey_of,
    notes_of,
    settled_first_touch,
    unique_phone,
    zone_where,
)
from tests.support import Mesh, error_reason, field_violations, location_of, mesh

AGENT = "agent-approver-1"


@pytest.fixture(scope="module")
async def rig(migrated_dsn: str) -> AsyncIterator[tuple[Mesh, FakeProviders]]:
    async with fake_providers.running_fakes() as (fakes, base):
        env = fake_providers.env_for(base) | {"COORDINATOR_SEND_BACKOFF_S": "0.01"}
        overrides: dict[str, dict[str, Any]] = {
            "ingest": {"outbox_poll_s": 0.1},
            "coordinator": {"providers": ProviderConfig.from_env(env), "scheduler_poll_s": 0.1},
        }
        async with mesh(migrated_dsn, overrides=overrides) as m:
            yield m, fakes


async def pending_first_touch(m: Mesh) -> tuple[Any, pb.Communication]:
    """A lead of a suggest-mode location whose first text waits for approval, with its
    agent notification settled (so nothing else of the lead is in flight)."""
    loc = f"loc-{uuid.uuid4()}"
    settings = content_pb.LocationContentSettings(
        location_id=loc, approval_mode=content_pb.APPROVAL_MODE_SUGGEST
    )
    await m.clients.content.SetLocationContentSettings(
        content_pb.SetLocationContentSettingsRequest(settings=settings), timeout=5
    )
    await add_agent(m, loc, phone="+12125550123")
    lead = await add_lead(
        m, loc, phone=unique_phone(), timezone=zone_where(DAY_HOURS), sms_consent=True, first_name="Maria"
    )
    touch = await settled_first_touch(m, lead.lead_id)
    await eventually(
        lambda: notes_of(m, lead.lead_id),
        lambda notes: bool(notes) and notes[0].status != pb.COMMUNICATION_STATUS_SCHEDULED,
        "the assignment notification handed to the fake Twilio",
    )
    assert touch.status == pb.COMMUNICATION_STATUS_BLOCKED
    assert touch.awaiting_approval
    assert touch.message_id
    return lead, touch


async def draft_of(m: Mesh, lead_id: str, message_id: str) -> content_pb.Message:
    page = await m.clients.content.GetConversation(
        content_pb.GetConversationRequest(lead_id=lead_id, location_id=await location_of(m, lead_id)),
        timeout=5,
    )
    return next(x for x in page.messages if x.message_id == message_id)


async def send(m: Mesh, message_id: str, location_id: str) -> pb.Communication:
    resp = await m.clients.coordinator.SendApprovedMessage(
        pb.SendApprovedMessageRequest(message_id=message_id, location_id=location_id), timeout=10
    )
    return resp.communication


async def approve(m: Mesh, message_id: str, location_id: str) -> None:
    await m.clients.content.ApproveMessage(
        content_pb.ApproveMessageRequest(message_id=message_id, agent_id=AGENT, location_id=location_id),
        timeout=5,
    )


def texts_to(fakes: FakeProviders, phone: str) -> list[fake_providers.Receipt]:
    return [r for r in fakes.twilio.receipts if r.to == phone]


async def test_an_edited_approval_is_sent_once_however_often_it_is_asked(
    rig: tuple[Mesh, FakeProviders],
) -> None:
    m, fakes = rig
    lead, touch = await pending_first_touch(m)

    # Before an agent approves, nothing can send it.
    with pytest.raises(grpc.aio.AioRpcError) as early:
        await send(m, touch.message_id, lead.location_id)
    assert early.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_reason(early.value) == "MESSAGE_NOT_APPROVED"
    assert texts_to(fakes, lead.phone) == []

    draft = await draft_of(m, lead.lead_id, touch.message_id)
    edited = draft.body.replace("Reply STOP", "Talk soon. Reply STOP", 1)
    assert edited != draft.body
    await m.clients.content.ApproveMessage(
        content_pb.ApproveMessageRequest(
            message_id=touch.message_id, agent_id=AGENT, edited_body=edited, location_id=lead.location_id
        ),
        timeout=5,
    )

    # Two callers at once, then a retry: one text goes out.
    loc = lead.location_id
    first, second = await asyncio.gather(send(m, touch.message_id, loc), send(m, touch.message_id, loc))
    again = await send(m, touch.message_id, loc)
    sent = texts_to(fakes, lead.phone)
    assert len(sent) == 1
    assert sent[0].body == edited
    for answer in (first, second, again):
        assert answer.communication_id == touch.communication_id
    assert again.status == pb.COMMUNICATION_STATUS_QUEUED
    assert again.body == edited
    assert again.provider_message_id == sent[0].provider_message_id
    assert not again.awaiting_approval
    # Who released it is on the lead's timeline.
    timeline = await m.clients.coordinator.GetLeadTimeline(
        pb.GetLeadTimelineRequest(lead_id=lead.lead_id, page_size=100, location_id=lead.location_id),
        timeout=5,
    )
    assert any(AGENT in str(entry) for entry in timeline.entries)

    # The journey goes on from its first touch: the next cadence step is already waiting.
    journey = await journey_of(m, lead.lead_id)
    assert journey.state == pb.JOURNEY_STATE_ACTIVE
    assert journey.step_index >= 1


async def test_an_approval_after_the_lead_opted_out_is_not_sent_and_says_why(
    rig: tuple[Mesh, FakeProviders],
) -> None:
    m, fakes = rig
    lead, touch = await pending_first_touch(m)
    await handle(m, inbound(lead, "STOP"))
    journey = await journey_of(m, lead.lead_id)
    assert journey.state == pb.JOURNEY_STATE_STOPPED
    await approve(m, touch.message_id, lead.location_id)
    draft = await draft_of(m, lead.lead_id, touch.message_id)
    before = len(texts_to(fakes, lead.phone))  # the opt-out confirmation went to the lead

    refused = await send(m, touch.message_id, lead.location_id)
    assert refused.status == pb.COMMUNICATION_STATUS_BLOCKED
    assert "not sent" in refused.status_reason
    assert journey.stop_reason in refused.status_reason
    assert not refused.awaiting_approval
    assert not refused.provider_message_id

    # A retry changes nothing and still sends nothing.
    again = await send(m, touch.message_id, lead.location_id)
    assert (again.status, again.status_reason) == (refused.status, refused.status_reason)
    sent = texts_to(fakes, lead.phone)
    assert len(sent) == before
    assert all(r.body != draft.body for r in sent)


async def test_a_message_no_step_carries_is_not_found(rig: tuple[Mesh, FakeProviders]) -> None:
    m, _ = rig
    for message_id, code, reason in (
        (str(uuid.uuid4()), grpc.StatusCode.NOT_FOUND, "APPROVAL_NOT_FOUND"),
        (" ", grpc.StatusCode.INVALID_ARGUMENT, "MISSING_FIELD"),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await send(m, message_id, f"loc-{uuid.uuid4()}")
        assert err.value.code() == code
        assert error_reason(err.value) == reason


async def test_a_send_must_claim_the_leads_location(rig: tuple[Mesh, FakeProviders]) -> None:
    """The claim is required (#15): without it, INVALID_ARGUMENT naming location_id even for the
    lead's own approved draft; another location's claim answers as an unknown message does.
    Either way nothing is sent and the step still waits for a send."""
    m, fakes = rig
    lead, touch = await pending_first_touch(m)
    await approve(m, touch.message_id, lead.location_id)
    for claim in ("", "  "):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await send(m, touch.message_id, claim)
        assert (err.value.code(), error_reason(err.value)) == (
            grpc.StatusCode.INVALID_ARGUMENT,
            "MISSING_FIELD",
        )
        assert field_violations(err.value) == ["location_id"]
    other = f"loc-{uuid.uuid4()}"
    answers = []
    for message_id in (touch.message_id, str(uuid.uuid4())):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await send(m, message_id, other)
        answers.append((err.value.code(), error_reason(err.value)))
    assert answers == [(grpc.StatusCode.NOT_FOUND, "APPROVAL_NOT_FOUND")] * 2
    assert texts_to(fakes, lead.phone) == []
    page = await m.clients.coordinator.ListCommunications(
        pb.ListCommunicationsRequest(lead_id=lead.lead_id, location_id=lead.location_id), timeout=5
    )
    step = next(c for c in page.communications if c.communication_id == touch.communication_id)
    assert (step.status, step.awaiting_approval) == (pb.COMMUNICATION_STATUS_BLOCKED, True)

    own = await send(m, touch.message_id, lead.location_id)
    assert not own.awaiting_approval
    assert len(texts_to(fakes, lead.phone)) == 1
