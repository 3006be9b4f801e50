"""`leadengine demo`: one lead through a running mesh, traced step by step over RPCs."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import grpc
from google.protobuf import duration_pb2
from leadengine.common.v1 import common_pb2
from leadengine.content.v1 import content_service_pb2 as content_pb
from leadengine.coordinator.v1 import coordinator_service_pb2 as coordinator_pb
from leadengine.ingest.v1 import ingest_service_pb2 as ingest_pb
from leadengine.intelligence.v1 import intelligence_service_pb2 as intelligence_pb
from leadengine.routing.v1 import routing_service_pb2 as routing_pb
from rich.markup import escape

from cli import demo_delivery, seed, synthetic, timeline
from cli.terminal import console
from shared import timestamps
from shared.clients import Peers

# The first-touch pipeline, in the order the coordinator runs it.
STEPS = ("journey started", "scored", "routed", "message written", "communication recorded")
# With --followup-after: the cadence's next step, scheduled and then settled by the scheduler.
FOLLOW_UP_STEPS = ("follow-up scheduled", "follow-up recorded")
POLL_S = 0.05
# Once the communication exists the pipeline is over; wait this long for stragglers.
SETTLE_S = 1.0
# How long to follow a message the provider accepted to DELIVERED.
DELIVERY_WAIT_S = 15.0

# What each status says about the compliance gates (consent, opt-outs, quiet hours).
COMPLIANCE = {
    "SIMULATED": "gates passed",
    "QUEUED": "gates passed",
    "SENT": "gates passed",
    "DELIVERED": "gates passed",
    "SCHEDULED": "held for the lead's quiet hours",
    "BLOCKED": "refused by a gate",
}


@dataclass
class Trace:
    started: float
    seen: dict[str, float] = field(default_factory=dict)
    last_error: dict[str, str] = field(default_factory=dict)

    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self.started) * 1000

    def mark(self, step: str, detail: str) -> None:
        if step in self.seen:
            return
        self.seen[step] = self.elapsed_ms()
        console.print(f"  {self.seen[step]:>7.0f} ms  [bold]{step:<22}[/] {detail}")


def demo_lead(location_id: str) -> tuple[ingest_pb.Lead, bool]:
    city, daytime = synthetic.daytime_city(timestamps.now())
    rng = random.Random()  # noqa: S311 - a demo name, not a secret
    first, last = rng.choice(synthetic.FIRST_NAMES), rng.choice(synthetic.LAST_NAMES)
    lead = ingest_pb.Lead(
        location_id=location_id,
        external_contact_id=f"demo-{uuid.uuid4()}",
        first_name=first,
        last_name=last,
        email=f"{first}.{last}".lower().replace("'", "") + f".{rng.randrange(1000)}@example.com",
        phone=synthetic.fictional_phone(rng, city.area_codes[0]),
        timezone=city.zone,
        city=city.name,
        state=city.state,
        country="US",
        source=ingest_pb.LEAD_SOURCE_WEB_FORM,
        tags=["buyer"],
        budget_usd=city.median_price_usd,
        timeline_months=3,
        preapproved=True,
        sms_consent=True,
        email_consent=True,
    )
    return lead, daytime


async def _call(trace: Trace, service: str, rpc: Any, request: Any) -> Any:
    """The response, or None while the thing does not exist yet (NOT_FOUND) or the service is away."""
    try:
        return await rpc(request, timeout=2.0)
    except grpc.aio.AioRpcError as err:
        if err.code() == grpc.StatusCode.NOT_FOUND:
            return None
        trace.last_error[service] = f"{err.code().name}: {err.details()}"
        if err.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
            return None
        raise


def _factors(intel: intelligence_pb.LeadIntelligence) -> str:
    top = sorted(intel.factors, key=lambda f: abs(f.points), reverse=True)[:3]
    return ", ".join(f"{f.name} {f.points:+.0f}" for f in top) or "no factors"


def _words(channel: int, status: int) -> tuple[str, str]:
    return (
        common_pb2.Channel.Name(channel).removeprefix("CHANNEL_"),  # type: ignore[arg-type]
        coordinator_pb.CommunicationStatus.Name(status).removeprefix("COMMUNICATION_STATUS_"),  # type: ignore[arg-type]
    )


async def _poll(
    peers: Peers, trace: Trace, lead_id: str, location_id: str
) -> list[coordinator_pb.Communication]:
    """Marks what is new; returns the lead's communications, newest first."""
    journey = await _call(
        trace,
        "coordinator",
        peers.coordinator.GetJourney,
        coordinator_pb.GetJourneyRequest(lead_id=lead_id, location_id=location_id),
    )
    if journey is not None:
        j = journey.journey
        state = coordinator_pb.JourneyState.Name(j.state).removeprefix("JOURNEY_STATE_")
        trace.mark("journey started", f"journey {j.journey_id} {state}")
        if j.agent_reason and "routed" not in trace.seen:
            trace.last_error.setdefault("routing", f"journey has no agent: {j.agent_reason}")
    intel = await _call(
        trace,
        "intelligence",
        peers.intelligence.GetLeadIntelligence,
        intelligence_pb.GetLeadIntelligenceRequest(lead_id=lead_id, location_id=location_id),
    )
    if intel is not None:
        i = intel.intelligence
        tier = intelligence_pb.ScoreTier.Name(i.tier).removeprefix("SCORE_TIER_")
        trace.mark("scored", f"{i.score:.0f}/100 {tier}; top factors: {escape(_factors(i))}")
    assignment = await _call(
        trace,
        "routing",
        peers.routing.GetAssignment,
        routing_pb.GetAssignmentRequest(lead_id=lead_id, location_id=location_id),
    )
    if assignment is not None:
        a = assignment.assignment
        reasons = a.reasons[0] if a.reasons else "no reason given"
        trace.mark("routed", f"to {escape(a.agent_name or a.agent_id)} ({escape(reasons)})")
    conversation = await _call(
        trace,
        "content",
        peers.content.GetConversation,
        content_pb.GetConversationRequest(lead_id=lead_id, location_id=location_id),
    )
    if conversation is not None:
        first = [m for m in conversation.messages if m.purpose == content_pb.MESSAGE_PURPOSE_FIRST_TOUCH]
        if first:
            m = first[0]
            generator = content_pb.Generator.Name(m.generator).removeprefix("GENERATOR_").lower()
            trace.mark("message written", f'[italic]"{escape(m.body)}"[/] ({generator} {escape(m.model)})')
    comms = await _call(
        trace,
        "coordinator",
        peers.coordinator.ListCommunications,
        coordinator_pb.ListCommunicationsRequest(lead_id=lead_id, location_id=location_id),
    )
    if comms is None or not comms.communications:
        return []
    c = comms.communications[-1]  # newest first: the last one is the first touch
    channel, status = _words(c.channel, c.status)
    if status == "SCHEDULED" and not c.status_reason:
        return list(comms.communications)  # claimed and being sent right now: not settled yet
    compliance = COMPLIANCE.get(status, "see status")
    scheduled = timestamps.from_proto(c.scheduled_time)
    if status == "SCHEDULED" and scheduled is not None:
        compliance += f" until {scheduled.isoformat(timespec='minutes')}"
    reason = f"; {c.status_reason}" if c.status_reason else ""
    trace.mark(
        "communication recorded",
        f"{channel} to {c.address}: [bold]{status}[/] (compliance: {compliance}{escape(reason)})",
    )
    return list(comms.communications)


def _poll_follow_up(trace: Trace, comms: list[coordinator_pb.Communication]) -> None:
    """The step after the first touch: newest first, so every outbound row but the last."""
    later = [c for c in comms[:-1] if c.direction == coordinator_pb.DIRECTION_OUTBOUND]
    if not later:
        return
    c = later[-1]
    channel, status = _words(c.channel, c.status)
    waiting = status == "SCHEDULED" and c.status_reason.startswith("cadence step")
    scheduled = timestamps.from_proto(c.scheduled_time)
    if waiting or "follow-up scheduled" not in trace.seen:
        due = scheduled.isoformat(timespec="seconds") if scheduled else "now"
        trace.mark("follow-up scheduled", f"{channel} due {due} (written by content when due)")
    if not waiting:
        reason = f"; {c.status_reason}" if c.status_reason else ""
        body = f' [italic]"{escape(c.body)}"[/]' if c.body else ""
        trace.mark("follow-up recorded", f"{channel}: [bold]{status}[/]{escape(reason)}{body}")


async def use_follow_up_cadence(peers: Peers, location_id: str, after: timedelta) -> None:
    """Make the location's default cadence a first text and one follow-up `after` later, so
    the real scheduler sends the follow-up while the demo watches. The same request_id
    for the same delay upserts the same cadence, so repeated demos add nothing."""
    delay = duration_pb2.Duration()
    delay.FromTimedelta(after)
    await peers.coordinator.UpsertCadence(
        coordinator_pb.UpsertCadenceRequest(
            cadence=coordinator_pb.Cadence(
                location_id=location_id,
                name=f"demo: first text, follow-up after {after.total_seconds():g}s",
                steps=[
                    coordinator_pb.CadenceStep(
                        channel=common_pb2.CHANNEL_SMS, purpose=content_pb.MESSAGE_PURPOSE_FIRST_TOUCH
                    ),
                    coordinator_pb.CadenceStep(
                        delay=delay,
                        channel=common_pb2.CHANNEL_SMS,
                        purpose=content_pb.MESSAGE_PURPOSE_FOLLOW_UP,
                    ),
                ],
                is_default=True,
            ),
            request_id=f"demo-follow-up-{after.total_seconds():g}s",
        ),
        timeout=10,
    )


async def run(
    *, location_id: str, timeout_s: float, peers: Peers, follow_up_after: timedelta | None = None
) -> int:
    try:
        agents, created = await seed.ensure_agents(peers, location_id)
    except grpc.aio.AioRpcError as err:
        console.print(f"[red]demo failed:[/] routing: {err.code().name}: {err.details()}")
        return 1
    steps = STEPS + (FOLLOW_UP_STEPS if follow_up_after is not None else ())
    if follow_up_after is not None:
        try:
            await use_follow_up_cadence(peers, location_id, follow_up_after)
        except grpc.aio.AioRpcError as err:
            console.print(
                f"[red]demo failed:[/] coordinator UpsertCadence: {err.code().name}: {err.details()}"
            )
            return 1
        after = f"{follow_up_after.total_seconds():g}s"
        console.print(f"default cadence of {location_id}: a text now, a follow-up text after {after}")
        timeout_s += follow_up_after.total_seconds()
    note = "created" if created else "present"
    console.print(f"location [bold]{location_id}[/]: {len(agents)} agent(s) {note}")
    lead, daytime = demo_lead(location_id)
    if not daytime:
        console.print("[yellow]it is night in every US zone we know: the first text will be SCHEDULED[/]")
    console.print(
        f"lead: {lead.first_name} {lead.last_name}, {lead.city} {lead.state} ({lead.timezone}), {lead.phone}"
    )

    trace = Trace(started=time.perf_counter())
    try:
        resp = await peers.ingest.UpsertLead(
            ingest_pb.UpsertLeadRequest(lead=lead, request_id=str(uuid.uuid4())), timeout=10
        )
    except grpc.aio.AioRpcError as err:
        console.print(f"[red]demo failed:[/] ingest UpsertLead: {err.code().name}: {err.details()}")
        return 1
    lead_id = resp.lead.lead_id
    trace.mark("lead stored", f"lead {lead_id} ({'created' if resp.created else 'updated'})")

    deadline = time.perf_counter() + timeout_s
    settle_until: float | None = None
    try:
        while time.perf_counter() < deadline:
            comms = await _poll(peers, trace, lead_id, location_id)
            if follow_up_after is not None and "communication recorded" in trace.seen:
                _poll_follow_up(trace, comms)
                if "follow-up recorded" in trace.seen:
                    break
                await asyncio.sleep(POLL_S)
                continue
            if all(step in trace.seen for step in steps):
                break
            if "communication recorded" in trace.seen:
                settle_until = settle_until or time.perf_counter() + SETTLE_S
                if time.perf_counter() > settle_until:
                    break
            await asyncio.sleep(POLL_S)
    except grpc.aio.AioRpcError as err:
        console.print(f"[red]demo failed:[/] {err.code().name}: {err.details()}")
        return 1

    missing = [step for step in steps if step not in trace.seen]
    if missing:
        console.print(f"[red]demo failed:[/] never saw: {', '.join(missing)} (waited {timeout_s:g}s)")
        for service, error in trace.last_error.items():
            console.print(f"  last {service} answer: {escape(error)}")
        console.print("  the services' logs say why (`leadengine up` writes them to .leadengine/logs/)")
        return 1
    # With provider credentials the message went out: follow its status callbacks.
    await demo_delivery.follow(peers, trace, lead_id, location_id, DELIVERY_WAIT_S)
    console.print(
        f"[green]done:[/] lead {lead_id} went through the mesh in {max(trace.seen.values()):.0f} ms"
    )
    if follow_up_after is not None:
        # Why the lead got each message when it did, as the coordinator logged it.
        console.print(timeline.table(await timeline.fetch(peers, lead_id, location_id)))
    return 0
