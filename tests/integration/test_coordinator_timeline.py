"""GetLeadTimeline and the journey's end, through gRPC against real Postgres: a full
journey (first touch, a follow-up step written by the scheduler, a reply) is in the
timeline in order; a cadence that runs out completes the journey; losing the last
lawful channel stops it at once."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import grpc
import pytest
from google.protobuf import json_format
from leadengine.common.v1 import common_pb2
from leadengine.coordinator.v1 import coordinator_service_pb2 as pb
from leadengine.ingest.v1 import ingest_service_pb2 as ingest_pb

from cli import timeline as cli_timeline
from services.coordinator.app import create_scheduler
from services.coordinator.delivery.scheduler import Scheduler
from services.coordinator.timeline.observed import ObservedContent
from services.coordinator.timeline.repository import DecisionLog
from shared import db, timestamps
from tests.integration.test_coordinator_cadences import due, step, upsert
from tests.journeys import (
    DAY_HOURS,
    TIME_TRAVEL_BATCH,
    add_agent,
    add_lead,
    comms_of,
    eventually,
    handle,
    inbound,
    journey_of,
    unique_phone,
    zone_where,
)
from tests.support import Mesh, error_reason, field_violations, location_of, service_config

SMS = common_pb2.CHANNEL_SMS


@pytest.fixture(scope="module")
async def stepper(migrated_dsn: str, m: Mesh) -> AsyncIterator[Scheduler]:
    """The real scheduler, wired as create_app wires it: content's answers are logged."""
    pool = await db.create_pool(migrated_dsn, schema="coordinator", service="coordinator-test", max_size=2)
    try:
        database = db.Database(pool)
        content = ObservedContent(m.clients, DecisionLog(database))
        yield create_scheduler(
            database,
            service_config("coordinator", migrated_dsn, scheduler_batch=TIME_TRAVEL_BATCH),
            content=content,
        )
    finally:
        await pool.close()


async def timeline(m: Mesh, lead_id: str, page_size: int = 0) -> list[pb.TimelineEntry]:
    """Every entry, page after page, as `leadengine timeline` reads them."""
    return await cli_timeline.fetch(m.clients, lead_id, await location_of(m, lead_id), page_size)


async def suppress(
    m: Mesh, phone: str, reason: str, *, lead: ingest_pb.Lead | None = None
) -> pb.HandleLeadEventResponse:
    """A SUPPRESSION event for a number, naming the lead or (revoke-all) no one."""
    return await handle(
        m,
        pb.LeadEventEnvelope(
            event_id=str(uuid.uuid4()),
            kind=pb.LEAD_EVENT_KIND_SUPPRESSION,
            lead_id=lead.lead_id if lead else "",
            location_id=lead.location_id if lead else "",
            suppression=pb.SuppressionFacts(channel=SMS, address=phone, reason=reason),
        ),
    )


def details(entry: pb.TimelineEntry) -> dict[str, Any]:
    return json_format.MessageToDict(entry.details)


def subsequence(kinds: list[str], wanted: list[str]) -> bool:
    it = iter(kinds)
    return all(k in it for k in wanted)


async def walking_lead(m: Mesh, days: tuple[float, ...], **kw: Any) -> ingest_pb.Lead:
    loc = f"loc-{uuid.uuid4()}"
    await upsert(m, loc, [step(d) for d in days])
    await add_agent(m, loc, phone="+12125550123")
    kw.setdefault("phone", unique_phone())
    lead = await add_lead(m, loc, timezone=zone_where(DAY_HOURS), sms_consent=True, **kw)
    await eventually(lambda: journey_of(m, lead.lead_id), lambda j: j.step_index >= 1, "step 1")
    return lead


async def test_a_full_journey_is_in_the_timeline_in_order(m: Mesh, stepper: Scheduler) -> None:
    lead = await walking_lead(m, (0, 1, 3))
    journey = await journey_of(m, lead.lead_id)
    await stepper.run_once(now=due(journey) + timedelta(seconds=1))  # step 1, a day later
    await eventually(lambda: journey_of(m, lead.lead_id), lambda j: j.step_index == 2, "step 2 scheduled")
    await handle(m, inbound(lead, "Yes please, call me"))
    entries = await eventually(
        lambda: timeline(m, lead.lead_id),
        lambda es: any(e.kind == "notification" and "reply" in e.summary for e in es),
        "the reply's notification in the timeline",
    )
    kinds = [e.kind for e in entries]
    assert subsequence(
        kinds,
        # stored, consent basis, scored, routed, journey started, first touch written,
        # its gates, sent, step 1 scheduled, step 1 written and sent, step 2 scheduled,
        # the reply, the journey stopped, step 2 blocked.
        [
            *("stored", "consent", "scored", "routed", "journey", "written", "gate", "status", "scheduled"),
            *("written", "status", "scheduled", "reply", "journey", "gate"),
        ],
    ), kinds
    times = [timestamps.from_proto(e.time) for e in entries]
    assert times == sorted(times)  # type: ignore[type-var]

    by_kind = {e.kind: e for e in entries}  # the last of each kind
    stored = next(e for e in entries if e.kind == "stored")
    assert details(stored)["event_kind"] == "LEAD_CREATED"
    assert timestamps.from_proto(stored.time) == timestamps.from_proto(lead.create_time)
    scored = details(by_kind["scored"])
    assert scored["factors"]
    assert {"name", "points"} <= set(scored["factors"][0])
    routed = details(by_kind["routed"])
    assert routed["routed"] is True
    assert routed["reasons"]
    assert routed["agent_name"] == "Ana Agent"
    written = [details(e) for e in entries if e.kind == "written"]
    assert [(w["purpose"], w["generator"], w.get("step_index")) for w in written] == [
        ("FIRST_TOUCH", "TEMPLATE", 0),
        ("AGENT_NOTIFICATION", "TEMPLATE", None),
        ("FOLLOW_UP", "TEMPLATE", 1),
    ]
    sent = [details(e) for e in entries if e.kind == "status"]
    assert [(s["step_index"], s["status"]) for s in sent] == [(0, "SIMULATED"), (1, "SIMULATED")]
    scheduled = [details(e) for e in entries if e.kind == "scheduled"]
    assert [s["step_index"] for s in scheduled] == [1, 2]
    reply = by_kind["reply"]
    assert details(reply)["direction"] == "INBOUND"
    stops = [e for e in entries if e.kind == "journey" and "stopped" in e.summary]
    assert [e.summary for e in stops] == ["journey stopped: lead replied"]
    blocked = entries[kinds.index("reply") :]
    assert any(
        e.kind == "gate" and details(e).get("step_index") == 2 and details(e)["status"] == "BLOCKED"
        for e in blocked
    )

    # The same entries whatever the page size; a redelivered event logs nothing twice.
    assert [e.summary for e in await timeline(m, lead.lead_id, page_size=2)] == [e.summary for e in entries]
    await handle(m, inbound(lead, "Yes please, call me", sid=details(reply)["provider_message_id"]))
    assert len(await timeline(m, lead.lead_id)) == len(entries)


async def test_a_cadence_that_runs_out_completes_the_journey(m: Mesh, stepper: Scheduler) -> None:
    lead = await walking_lead(m, (0, 1))
    journey = await journey_of(m, lead.lead_id)
    assert journey.state == pb.JOURNEY_STATE_ACTIVE
    await stepper.run_once(now=due(journey) + timedelta(seconds=1))  # the last step
    done = await eventually(
        lambda: journey_of(m, lead.lead_id), lambda j: j.state != pb.JOURNEY_STATE_ACTIVE, "completion"
    )
    assert done.state == pb.JOURNEY_STATE_COMPLETED
    assert done.stop_reason.startswith("cadence finished")
    assert not done.HasField("next_step_time")
    summaries = [e.summary for e in await timeline(m, lead.lead_id)]
    assert summaries[-1].startswith("journey completed: cadence finished"), summaries


async def test_losing_the_last_lawful_channel_stops_the_journey_at_once(m: Mesh) -> None:
    lead = await walking_lead(m, (0, 1, 3))  # phone only: SMS is its one channel
    resp = await suppress(m, lead.phone, "carrier block", lead=lead)
    assert (resp.journey.state, resp.journey.stop_reason) == (
        pb.JOURNEY_STATE_STOPPED,
        "opted out of every channel",
    )
    waiting = [c for c in await comms_of(m, lead.lead_id) if c.status == pb.COMMUNICATION_STATUS_SCHEDULED]
    assert waiting == []
    kinds = [e.kind for e in await timeline(m, lead.lead_id)]
    assert subsequence(kinds, ["opt_out", "journey"]), kinds


async def test_a_suppressed_address_stops_every_lead_left_without_a_channel(m: Mesh) -> None:
    phone = unique_phone()
    only_phone = await walking_lead(m, (0, 1), phone=phone)
    with_email = await walking_lead(m, (0, 1), phone=phone, email=f"x.{uuid.uuid4().hex[:10]}@example.com")
    await suppress(m, phone, "spam report")
    assert (await journey_of(m, only_phone.lead_id)).state == pb.JOURNEY_STATE_STOPPED
    assert (await journey_of(m, with_email.lead_id)).state == pb.JOURNEY_STATE_ACTIVE


async def test_timeline_needs_a_known_lead_and_a_valid_request(m: Mesh) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as unknown:
        await m.clients.coordinator.GetLeadTimeline(
            pb.GetLeadTimelineRequest(lead_id=str(uuid.uuid4()), location_id="loc-never-stored"), timeout=5
        )
    assert unknown.value.code() == grpc.StatusCode.NOT_FOUND
    assert error_reason(unknown.value) == "JOURNEY_NOT_FOUND"
    for request, field in [
        (pb.GetLeadTimelineRequest(lead_id="nope", location_id="loc-never-stored"), "lead_id"),
        (
            pb.GetLeadTimelineRequest(
                lead_id=str(uuid.uuid4()), page_size=-1, location_id="loc-never-stored"
            ),
            "page_size",
        ),
        (
            pb.GetLeadTimelineRequest(
                lead_id=str(uuid.uuid4()), page_token="x", location_id="loc-never-stored"
            ),
            "page_token",
        ),
    ]:
        with pytest.raises(grpc.aio.AioRpcError) as bad:
            await m.clients.coordinator.GetLeadTimeline(request, timeout=5)
        assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert field_violations(bad.value) == [field]


async def test_a_one_step_cadence_completes_at_the_first_touch_and_still_tells_the_agent(m: Mesh) -> None:
    lead = await walking_lead(m, (0,))
    journey = await eventually(
        lambda: journey_of(m, lead.lead_id), lambda j: j.state != pb.JOURNEY_STATE_ACTIVE, "completion"
    )
    assert journey.state == pb.JOURNEY_STATE_COMPLETED
    await eventually(
        lambda: timeline(m, lead.lead_id),
        lambda es: any(e.kind == "notification" for e in es),
        "the agent's assignment notification",
    )


async def test_crm_do_not_disturb_on_the_only_channel_stops_the_journey_at_once(m: Mesh) -> None:
    lead = await walking_lead(m, (0, 1, 3))  # phone only
    updated = ingest_pb.Lead()
    updated.CopyFrom(lead)
    updated.sms_dnd = True
    await handle(
        m,
        pb.LeadEventEnvelope(
            event_id=str(uuid.uuid4()),
            kind=pb.LEAD_EVENT_KIND_LEAD_UPDATED,
            lead_id=lead.lead_id,
            location_id=lead.location_id,
            lead=updated,
        ),
    )
    journey = await journey_of(m, lead.lead_id)
    assert (journey.state, journey.stop_reason) == (pb.JOURNEY_STATE_STOPPED, "opted out of every channel")
    assert not [c for c in await comms_of(m, lead.lead_id) if c.status == pb.COMMUNICATION_STATUS_SCHEDULED]
