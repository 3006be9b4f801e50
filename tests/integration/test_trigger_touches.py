"""Behaviour-timed touches and the reply hand-off, all five services in-process on real
PostgreSQL. Events enter through ingest (RecordEvent), whose outbox relays them to the
coordinator; some are also handed to HandleLeadEvent directly, as a redelivery would be,
so a test knows when the coordinator has handled one."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
from google.protobuf import struct_pb2
from leadengine.content.v1 import content_service_pb2 as content_pb
from leadengine.coordinator.v1 import coordinator_service_pb2 as pb
from leadengine.ingest.v1 import ingest_service_pb2 as ingest_pb
from leadengine.intelligence.v1 import intelligence_service_pb2 as intelligence_pb

from services.coordinator.delivery.scheduler import Scheduler
from shared import timestamps
from tests.journeys import NIGHT_HOURS, comms_of, eventually, handle, inbound, notes_of, started_lead
from tests.support import Mesh, field_violations, location_of

VIEW = ingest_pb.EVENT_TYPE_LISTING_VIEW
FAVORITE = ingest_pb.EVENT_TYPE_FAVORITE
SAVED_SEARCH = ingest_pb.EVENT_TYPE_SAVED_SEARCH


async def behave(
    m: Mesh, lead: Any, kind: int = VIEW, listing: str = "L1", ago: timedelta = timedelta(hours=1)
) -> pb.HandleLeadEventResponse:
    """Record the event in ingest, then hand the coordinator its BEHAVIOR envelope (the relay
    delivers the same event too; whichever comes first, the rule fires once)."""
    props = struct_pb2.Struct()
    props.update({"address": "12 Oak St"})
    recorded = await m.clients.ingest.RecordEvent(
        ingest_pb.RecordEventRequest(
            event=ingest_pb.LeadEvent(
                lead_id=lead.lead_id,
                location_id=lead.location_id,
                type=kind,
                listing_id=listing,
                occurred_time=timestamps.to_proto(datetime.now(UTC) - ago),
                properties=props,
            )
        ),
        timeout=5,
    )
    return await handle(
        m,
        pb.LeadEventEnvelope(
            event_id=f"test-{recorded.event.event_id}",
            kind=pb.LEAD_EVENT_KIND_BEHAVIOR,
            lead_id=lead.lead_id,
            location_id=lead.location_id,
            occurred_time=recorded.event.occurred_time,
            behavior_type="listing_view",
        ),
    )


async def firings_of(m: Mesh, lead_id: str) -> list[intelligence_pb.TriggerFiring]:
    resp = await m.clients.intelligence.ListTriggerFirings(
        intelligence_pb.ListTriggerFiringsRequest(lead_id=lead_id, location_id=await location_of(m, lead_id)),
        timeout=5,
    )
    return list(resp.firings)


async def touches_after(m: Mesh, lead_id: str, before: set[str], count: int) -> list[pb.Communication]:
    """The lead's outbound rows that did not exist before, once there are `count` of them."""

    async def fetch() -> list[pb.Communication]:
        return [
            c
            for c in await comms_of(m, lead_id)
            if c.communication_id not in before
            and c.direction == pb.DIRECTION_OUTBOUND
            and not c.status_reason.startswith("cadence step")
        ]

    return list(await eventually(fetch, lambda rows: len(rows) >= count, f"{count} trigger touches"))


async def ids_of(m: Mesh, lead_id: str) -> set[str]:
    return {c.communication_id for c in await comms_of(m, lead_id)}


async def test_three_views_schedule_one_touch_naming_the_listing_and_alert_the_agent(
    m: Mesh, scheduler: Scheduler
) -> None:
    lead = await started_lead(m)
    before = await ids_of(m, lead.lead_id)
    for hours in (3, 2):
        await behave(m, lead, ago=timedelta(hours=hours))
    assert await firings_of(m, lead.lead_id) == []
    await behave(m, lead, ago=timedelta(hours=1))
    (firing,) = await firings_of(m, lead.lead_id)
    assert firing.description == "12 Oak St, viewed three times in 7 days"
    (touch,) = await touches_after(m, lead.lead_id, before, 1)
    assert touch.status == pb.COMMUNICATION_STATUS_SCHEDULED
    assert touch.status_reason == f"trigger: {firing.description}"
    assert "12 Oak St" in touch.body
    assert "Reply STOP" in touch.body
    lead_time = touch.scheduled_time.ToDatetime(UTC) - touch.create_time.ToDatetime(UTC)
    assert timedelta(minutes=1) < lead_time < timedelta(minutes=3)  # "within minutes"
    written = await m.clients.content.GetConversation(
        content_pb.GetConversationRequest(lead_id=lead.lead_id, location_id=lead.location_id), timeout=5
    )
    assert written.messages[-1].purpose == content_pb.MESSAGE_PURPOSE_TRIGGER

    notes = await eventually(
        lambda: notes_of(m, lead.lead_id),
        lambda ns: any("viewed three times" in n.body for n in ns),
        "the hot-trigger alert",
    )
    alert = next(n for n in notes if "viewed three times" in n.body)
    assert alert.status == pb.COMMUNICATION_STATUS_SIMULATED
    assert "12 Oak St, viewed three times in 7 days" in alert.body

    # A fourth view is inside the rule's suppression window: no firing, no touch.
    await behave(m, lead, ago=timedelta(minutes=30))
    assert len(await firings_of(m, lead.lead_id)) == 1
    assert len(await touches_after(m, lead.lead_id, before, 1)) == 1

    # When due, the scheduler re-checks the gates and sends it.
    await scheduler.run_once(now=touch.scheduled_time.ToDatetime(UTC) + timedelta(seconds=1))
    (sent,) = await touches_after(m, lead.lead_id, before, 1)
    assert sent.status == pb.COMMUNICATION_STATUS_SIMULATED

    # The lead's timeline names the firing once, before the touch it caused.
    timeline = await m.clients.coordinator.GetLeadTimeline(
        pb.GetLeadTimelineRequest(lead_id=lead.lead_id, page_size=200, location_id=lead.location_id),
        timeout=5,
    )
    kinds = [e.kind for e in timeline.entries]
    fired = [e for e in timeline.entries if e.kind == "trigger_fired"]
    assert [e.summary for e in fired] == [f"trigger fired: {firing.description} (hot)"]
    assert fired[0].details["firing_id"] == firing.firing_id
    assert kinds.index("trigger_fired") < len(kinds) - 1


async def test_a_redelivered_behaviour_event_repeats_nothing(m: Mesh) -> None:
    lead = await started_lead(m)
    before = await ids_of(m, lead.lead_id)
    for hours in (3, 2, 1):
        await behave(m, lead, ago=timedelta(hours=hours))
    await touches_after(m, lead.lead_id, before, 1)
    event = pb.LeadEventEnvelope(
        event_id=str(uuid.uuid4()), kind=pb.LEAD_EVENT_KIND_BEHAVIOR, lead_id=lead.lead_id,
        location_id=lead.location_id,
    )  # fmt: skip
    await handle(m, event)
    again = await handle(m, event)
    assert again.duplicate
    assert len(await touches_after(m, lead.lead_id, before, 1)) == 1
    assert len(await firings_of(m, lead.lead_id)) == 1


async def test_the_per_lead_cap_blocks_the_third_trigger_touch(m: Mesh) -> None:
    lead = await started_lead(m)
    before = await ids_of(m, lead.lead_id)
    await behave(m, lead, FAVORITE, "L5")
    await behave(m, lead, SAVED_SEARCH, "")
    for hours in (3, 2, 1):
        await behave(m, lead, ago=timedelta(hours=hours))
    assert {f.rule_id for f in await firings_of(m, lead.lead_id)} == {
        "favorite", "saved-search", "same-listing-3x-7d"
    }  # fmt: skip
    touches = await touches_after(m, lead.lead_id, before, 3)
    blocked = [t for t in touches if t.status == pb.COMMUNICATION_STATUS_BLOCKED]
    assert [t.status_reason for t in blocked] == ["trigger-touch cap: 2 in 7 days reached for this lead"]
    assert not blocked[0].body  # refused before content wrote anything
    assert sum(t.status == pb.COMMUNICATION_STATUS_SCHEDULED for t in touches) == 2


async def test_trigger_touches_pass_the_gates(m: Mesh) -> None:
    # At night the touch waits for the lead's sending window.
    night = await started_lead(m, hours=NIGHT_HOURS)
    before = await ids_of(m, night.lead_id)
    await behave(m, night, FAVORITE, "L2")
    (held,) = await touches_after(m, night.lead_id, before, 1)
    assert held.status == pb.COMMUNICATION_STATUS_SCHEDULED
    assert held.status_reason.startswith("quiet hours in ")

    # A paused journey takes no automated touch.
    paused = await started_lead(m)
    await m.clients.coordinator.PauseJourney(
        pb.PauseJourneyRequest(lead_id=paused.lead_id, location_id=paused.location_id, reason="agent on it"),
        timeout=5,
    )
    before = await ids_of(m, paused.lead_id)
    await behave(m, paused, FAVORITE, "L2")
    (refused,) = await touches_after(m, paused.lead_id, before, 1)
    assert (refused.status, refused.status_reason) == (
        pb.COMMUNICATION_STATUS_BLOCKED,
        "journey paused: agent on it",
    )

    # After STOP the journey is over: no touch at all, but the agent still hears of a hot firing.
    stopped = await started_lead(m)
    await handle(m, inbound(stopped, "STOP"))
    before = await ids_of(m, stopped.lead_id)
    await behave(m, stopped, FAVORITE, "L2")
    assert [f.rule_id for f in await firings_of(m, stopped.lead_id)] == ["favorite"]
    assert await ids_of(m, stopped.lead_id) == before
    assert any("favourited 12 Oak St" in n.body for n in await notes_of(m, stopped.lead_id))


# -- replies -------------------------------------------------------------------------------


async def test_analyze_reply_classifies_and_explains(m: Mesh) -> None:
    resp = await m.clients.content.AnalyzeReply(
        content_pb.AnalyzeReplyRequest(
            lead_id=str(uuid.uuid4()), body="Yes! Can we schedule a tour Saturday?"
        ),
        timeout=5,
    )
    assert resp.intent == content_pb.REPLY_INTENT_INTERESTED
    assert 0 < resp.score <= 1
    assert "schedule a tour" in [p.phrase for p in resp.phrases]
    assert resp.model == "lexicon.v1"
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await m.clients.content.AnalyzeReply(
            content_pb.AnalyzeReplyRequest(lead_id=str(uuid.uuid4()), body="  "), timeout=5
        )
    assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field_violations(exc.value) == ["body"]


async def test_a_reply_hands_the_lead_off_with_its_classification_and_the_thread(m: Mesh) -> None:
    lead = await started_lead(m)
    first = next(c for c in await comms_of(m, lead.lead_id) if c.status == pb.COMMUNICATION_STATUS_SIMULATED)
    resp = await handle(m, inbound(lead, "Yes! Can we schedule a tour of the Oak St house Saturday?"))
    assert resp.journey.stop_reason == "lead replied"
    note = next(n for n in await notes_of(m, lead.lead_id) if "replied" in n.body)
    assert "Reads as: interested" in note.body
    assert '"schedule a tour"' in note.body
    assert "Earlier:" in note.body
    assert first.body[:40] in " ".join(note.body.split())


async def test_an_opt_out_like_reply_is_flagged_but_never_revokes_consent(m: Mesh) -> None:
    lead = await started_lead(m)
    # Reads as opt-out-like to AnalyzeReply, yet revokes nothing: it narrows what the lead
    # wants. ("Please remove me from your list" is a revocation: the compliance classifier's.)
    resp = await handle(m, inbound(lead, "I dont want your condo listings, houses only"))
    assert resp.journey.stop_reason == "lead replied"  # any reply stops the journey; no opt-out
    consent = await m.clients.coordinator.GetConsent(
        pb.GetConsentRequest(lead_id=lead.lead_id, location_id=lead.location_id), timeout=5
    )
    assert not consent.consent.sms_opted_out
    note = next(n for n in await notes_of(m, lead.lead_id) if "replied" in n.body)
    assert "wants to stop hearing from us" in note.body
    assert "not an opt-out by itself" in note.body
