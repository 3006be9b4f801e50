"""What other services decide about a lead, captured in the decision log as the
coordinator receives it: intelligence's score and its factors, routing's choice and
its reasons, the message content wrote and which generator wrote it, the events
ingest reports. Each is the ordinary peer client plus one log entry per answer,
keyed by the call's request_id, so a retried call logs once."""

from __future__ import annotations

import uuid
from typing import Any

from leadengine.content.v1 import content_service_pb2 as content_pb
from leadengine.coordinator.v1 import coordinator_service_pb2 as pb
from leadengine.ingest.v1 import ingest_service_pb2 as ingest_pb
from leadengine.intelligence.v1 import intelligence_service_pb2 as intelligence_pb

from services.coordinator.envelope import Envelope
from services.coordinator.timeline import entries
from services.coordinator.timeline.repository import DecisionLog
from shared import timestamps
from shared.clients import ContentClient, IntelligenceClient, Peers, Refused, Routed, RoutingClient, Unrouted


def _enum_name(enum: Any, value: int, prefix: str) -> str:
    return str(enum.Name(value)).removeprefix(prefix) if value in enum.values() else str(value)


class ObservedIntelligence(IntelligenceClient):
    def __init__(self, peers: Peers, log: DecisionLog) -> None:
        super().__init__(peers)
        self._log = log

    async def score_lead(
        self, lead_id: uuid.UUID | str, *, request_id: str, lead: ingest_pb.Lead | None = None
    ) -> intelligence_pb.LeadIntelligence:
        scored = await super().score_lead(lead_id, request_id=request_id, lead=lead)
        details = {
            "score": scored.score,
            "tier": _enum_name(intelligence_pb.ScoreTier, scored.tier, "SCORE_TIER_"),
            "model_version": scored.model_version,
            "factors": [
                {"name": f.name, "points": f.points, "description": f.description} for f in scored.factors
            ],
            "request_id": request_id,
        }
        await self._log.record(uuid.UUID(str(lead_id)), entries.SCORED, details, dedupe_key=request_id)
        return scored

    async def fire_triggers(
        self, lead_id: uuid.UUID | str, *, request_id: str, location_id: str
    ) -> list[intelligence_pb.TriggerFiring]:
        firings = await super().fire_triggers(lead_id, request_id=request_id, location_id=location_id)
        for f in firings:
            details = {
                "summary": f"trigger fired: {f.description}" + (" (hot)" if f.hot else ""),
                "firing_id": f.firing_id,
                "rule_id": f.rule_id,
                "rule_version": f.rule_version,
                "hot": f.hot,
                "event_ids": list(f.event_ids),
                "listing_id": f.listing_id,
            }
            await self._log.record(
                uuid.UUID(str(lead_id)), entries.TRIGGER_FIRED, details, dedupe_key=f"firing:{f.firing_id}"
            )
        return firings


class ObservedRouting(RoutingClient):
    def __init__(self, peers: Peers, log: DecisionLog) -> None:
        super().__init__(peers)
        self._log = log

    async def route_lead(
        self,
        lead_id: uuid.UUID | str,
        *,
        location_id: str,
        score: float,
        request_id: str,
        lead: ingest_pb.Lead | None = None,
    ) -> Routed | Unrouted:
        routed = await super().route_lead(
            lead_id, location_id=location_id, score=score, request_id=request_id, lead=lead
        )
        details: dict[str, Any]
        if isinstance(routed, Unrouted):
            details = {"routed": False, "why": routed.why, "request_id": request_id}
        else:
            a = routed.assignment
            details = {
                "routed": True,
                "agent_id": a.agent_id,
                "agent_name": a.agent_name or routed.agent.name,
                "reasons": list(a.reasons),
                "request_id": request_id,
            }
        await self._log.record(uuid.UUID(str(lead_id)), entries.ROUTED, details, dedupe_key=request_id)
        return routed


class ObservedContent(ContentClient):
    def __init__(self, peers: Peers, log: DecisionLog) -> None:
        super().__init__(peers)
        self._log = log

    async def generate_message(
        self, request: content_pb.GenerateMessageRequest
    ) -> content_pb.Message | Refused:
        written = await super().generate_message(request)
        details: dict[str, Any] = {
            "purpose": _enum_name(content_pb.MessagePurpose, request.purpose, "MESSAGE_PURPOSE_"),
            "channel": entries.channel_name(request.channel),
            "request_id": request.request_id,
        }
        if request.purpose != content_pb.MESSAGE_PURPOSE_AGENT_NOTIFICATION:
            details["step_index"] = request.step_index
        if isinstance(written, Refused):
            details.update(refused=True, reason=written.reason, message=written.message)
        else:
            details.update(
                refused=False,
                message_id=written.message_id,
                generator=_enum_name(content_pb.Generator, written.generator, "GENERATOR_"),
                model=written.model,
            )
        # A dry run (a campaign preview) stores nothing anywhere, the log included.
        key = f"written:{request.request_id}" if request.request_id and not request.dry_run else None
        if key is not None:
            await self._log.record(uuid.UUID(request.lead_id), entries.WRITTEN, details, dedupe_key=key)
        return written


async def record_event(log: DecisionLog, ev: Envelope) -> None:
    """An event from ingest about a lead, logged once per event_id. A new lead's entry
    carries the time ingest stored it, so the timeline starts there."""
    if ev.lead_id is None or ev.kind in (
        # Logged through the rows they produce (a reply, a status change, an opt-out).
        pb.LEAD_EVENT_KIND_INBOUND_MESSAGE,
        pb.LEAD_EVENT_KIND_OUTBOUND_MESSAGE,
        pb.LEAD_EVENT_KIND_DELIVERY_STATUS,
        pb.LEAD_EVENT_KIND_SUPPRESSION,
    ):
        return
    details: dict[str, Any] = {
        "event_id": ev.event_id,
        "event_kind": _enum_name(pb.LeadEventKind, ev.kind, "LEAD_EVENT_KIND_"),
        "location_id": ev.location_id,
    }
    at = ev.occurred_time
    kind = entries.EVENT
    if ev.kind == pb.LEAD_EVENT_KIND_LEAD_CREATED:
        kind = entries.STORED
        if ev.snapshot is not None:
            details["source"] = _enum_name(ingest_pb.LeadSource, ev.snapshot.source, "LEAD_SOURCE_")
            at = timestamps.from_proto(ev.snapshot.create_time) or at
    await log.record(ev.lead_id, kind, details, dedupe_key=f"event:{ev.event_id}", at=at)
