"""A lead's journey on lead events (created, updated, deleted, behaviour): the thin journey.

Every step is safe to repeat, because ingest's outbox redelivers an event until it
is acknowledged: downstream calls carry request_ids derived from the event or lead,
and each message is a row keyed by (lead, step_key). The event is marked handled
only after all of it worked. No database transaction is open while we wait on
another service.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import grpc
from leadengine.common.v1 import common_pb2
from leadengine.content.v1 import content_service_pb2 as content_pb
from leadengine.coordinator.v1 import coordinator_service_pb2 as pb
from leadengine.ingest.v1 import ingest_service_pb2 as ingest_pb
from leadengine.intelligence.v1 import intelligence_service_pb2 as intelligence_pb
from leadengine.routing.v1 import routing_service_pb2 as routing_pb

from services.coordinator import compliance, delivery, notifications, writing
from services.coordinator.compliance import Action, ContactFacts, SendWindow
from services.coordinator.envelope import Envelope
from services.coordinator.notifications import AgentNotifier
from services.coordinator.repository import CoordinatorRepository, NewCommunication, facts_from_row
from shared import contact, deadlines
from shared.clients import Peers
from shared.errors import NotFound, error_reason

log = logging.getLogger(__name__)

FIRST_TOUCH = "first_touch"
ASSIGNED = "assigned"
LEAD_DELETED = "lead deleted"


def _source_words(source: ingest_pb.LeadSource.ValueType) -> str:
    if source == ingest_pb.LEAD_SOURCE_UNSPECIFIED or source not in ingest_pb.LeadSource.values():
        return ""
    return ingest_pb.LeadSource.Name(source).removeprefix("LEAD_SOURCE_").lower().replace("_", " ")


class JourneyRunner:
    def __init__(
        self,
        repo: CoordinatorRepository,
        peers: Peers,
        sender: delivery.Sender,
        *,
        window: SendWindow,
        lease: timedelta,
        brand_name: str,
        clock: Callable[[], datetime],
    ) -> None:
        self._repo = repo
        self._peers = peers
        self._sender = sender
        self._window = window
        self._lease = lease
        self._brand = brand_name
        self._clock = clock
        self._notifier = AgentNotifier(repo, sender)

    async def handle(self, ev: Envelope) -> asyncpg.Record | None:
        """Act on a lead kind; returns the journey as it now stands."""
        if ev.kind == pb.LEAD_EVENT_KIND_LEAD_DELETED:
            return await self._repo.stop_journey(ev.lead, ev.location_id, LEAD_DELETED)
        if ev.kind in (pb.LEAD_EVENT_KIND_LEAD_CREATED, pb.LEAD_EVENT_KIND_LEAD_UPDATED):
            return await self._lead_changed(ev)
        return await self._rescore(ev)  # BEHAVIOR: triggers come later; the score moves now

    async def _lead_changed(self, ev: Envelope) -> asyncpg.Record | None:
        journey = await self._repo.find_journey(ev.lead)
        if journey is not None and journey["state"] != pb.JOURNEY_STATE_ACTIVE:
            return journey  # a stopped journey never restarts on a late or repeated event
        lead = await self._get_lead(ev.lead)
        if lead.HasField("delete_time"):
            return await self._repo.stop_journey(ev.lead, lead.location_id, LEAD_DELETED)
        facts = facts_from_row(
            await self._repo.upsert_consent(
                ev.lead,
                phone=lead.phone,
                email=lead.email,
                timezone=lead.timezone,
                sms_consent=lead.sms_consent,
                email_consent=lead.email_consent,
                sms_dnd=lead.sms_dnd,
                email_dnd=lead.email_dnd,
            )
        )
        score = await self._score(ev)
        started = journey is not None and journey["first_touch_time"] is not None
        if ev.kind == pb.LEAD_EVENT_KIND_LEAD_UPDATED and started:
            await self._repo.set_score(ev.lead, score)
            return await self._repo.find_journey(ev.lead)
        # A first event, or a retry of one that failed part-way: every step below is
        # idempotent, so running them again finishes what is missing.
        return await self._start(ev, lead, facts, score)

    async def _rescore(self, ev: Envelope) -> asyncpg.Record | None:
        journey = await self._repo.find_journey(ev.lead)
        if journey is not None and journey["state"] != pb.JOURNEY_STATE_ACTIVE:
            return journey  # a deleted lead's data is erased: nothing left to score
        score = await self._score(ev)
        if journey is None:
            return None
        await self._repo.set_score(ev.lead, score)
        return await self._repo.find_journey(ev.lead)

    async def _start(
        self, ev: Envelope, lead: ingest_pb.Lead, facts: ContactFacts, score: float
    ) -> asyncpg.Record:
        agent_id, agent_reason = await self._route(ev, lead, score)
        agent: routing_pb.Agent | None = None
        if agent_id is not None:
            got = await self._peers.routing.GetAgent(
                routing_pb.GetAgentRequest(agent_id=str(agent_id)), timeout=deadlines.timeout(2.0)
            )
            agent = got.agent
        journey = await self._repo.start_journey(ev.lead, lead.location_id, agent_id, agent_reason, score)
        if journey["state"] != pb.JOURNEY_STATE_ACTIVE:
            return journey  # stopped by a deletion while we were routing
        touch = await self._first_touch(journey, lead, agent, facts)
        journey = await self._repo.set_first_touch(journey["journey_id"], touch["create_time"])
        if agent is not None:
            await self._notify_agent(lead, agent, score)
        return journey

    async def _get_lead(self, lead_id: uuid.UUID) -> ingest_pb.Lead:
        try:
            resp = await self._peers.ingest.GetLead(
                ingest_pb.GetLeadRequest(lead_id=str(lead_id)), timeout=deadlines.timeout(2.0)
            )
        except grpc.aio.AioRpcError as err:
            if err.code() == grpc.StatusCode.NOT_FOUND:
                raise NotFound(
                    f"ingest does not know lead {lead_id}; the event cannot be handled",
                    reason="LEAD_NOT_FOUND",
                    metadata={"lead_id": str(lead_id)},
                ) from err
            raise
        return resp.lead

    async def _score(self, ev: Envelope) -> float:
        resp = await self._peers.intelligence.ScoreLead(
            intelligence_pb.ScoreLeadRequest(lead_id=str(ev.lead), request_id=f"{ev.event_id}:score"),
            timeout=deadlines.timeout(5.0),
        )
        return float(resp.intelligence.score)

    async def _route(self, ev: Envelope, lead: ingest_pb.Lead, score: float) -> tuple[uuid.UUID | None, str]:
        try:
            resp = await self._peers.routing.RouteLead(
                routing_pb.RouteLeadRequest(
                    lead_id=str(ev.lead),
                    location_id=lead.location_id,
                    score=score,
                    request_id=f"{ev.event_id}:route",
                ),
                timeout=deadlines.timeout(3.0),
            )
        except grpc.aio.AioRpcError as err:
            if (
                err.code() == grpc.StatusCode.FAILED_PRECONDITION
                and error_reason(err) == "NO_AGENT_AVAILABLE"
            ):
                # The lead still gets its first touch; a person can assign it later.
                log.warning("lead not routed", extra={"lead_id": str(ev.lead), "reason": err.details()})
                return None, f"no agent available: {err.details()}"
            raise
        return uuid.UUID(resp.assignment.agent_id), ""

    def _context(self, lead: ingest_pb.Lead, agent: routing_pb.Agent | None, score: float) -> Any:
        return content_pb.MessageContext(
            lead_first_name=lead.first_name,
            agent_name=agent.name if agent else "",
            agent_phone=agent.phone if agent else "",
            city=lead.city,
            source=_source_words(lead.source),
            brand_name=self._brand,
            lead_full_name=" ".join(p for p in (lead.first_name, lead.last_name) if p),
            lead_score=score,
        )

    async def _first_touch(
        self,
        journey: asyncpg.Record,
        lead: ingest_pb.Lead,
        agent: routing_pb.Agent | None,
        facts: ContactFacts,
    ) -> asyncpg.Record:
        base = {"lead_id": journey["lead_id"], "journey_id": journey["journey_id"], "step_key": FIRST_TOUCH}

        async def blocked(channel: int, address: str, reason: str) -> asyncpg.Record:
            row, _ = await self._repo.add_communication(
                NewCommunication(
                    **base,
                    channel=channel,
                    address=address,
                    status=pb.COMMUNICATION_STATUS_BLOCKED,
                    status_reason=reason,
                )
            )
            return row

        channel = compliance.choose_channel(facts)
        if channel is None:
            return await blocked(common_pb2.CHANNEL_UNSPECIFIED, "", compliance.NO_CONSENTED_CHANNEL)
        address = facts.address(channel)
        # Suppressed or opted out: refuse before anyone writes a message that cannot go out.
        refused = compliance.refusal(channel, address, facts)
        if refused:
            return await blocked(channel, address, refused)
        message, refused = await writing.write(
            self._peers,
            content_pb.GenerateMessageRequest(
                lead_id=str(journey["lead_id"]),
                location_id=lead.location_id,
                channel=channel,
                purpose=content_pb.MESSAGE_PURPOSE_FIRST_TOUCH,
                context=self._context(lead, agent, float(journey["score"] or 0.0)),
                request_id=f"{journey['lead_id']}:{FIRST_TOUCH}",
            ),
        )
        if message is None:
            return await blocked(channel, address, refused)
        now = self._clock()
        zone = contact.zone_for(facts.timezone, facts.phone) if channel == compliance.SMS else None
        decision = compliance.gate(channel, address, facts, zone, now, self._window)
        fields: dict[str, Any] = {
            **base,
            "channel": channel,
            "body": message.body,
            "subject": message.subject,
            "address": address,
            "message_id": message.message_id,
        }
        if decision.action is Action.BLOCK:
            row, _ = await self._repo.add_communication(
                NewCommunication(
                    **fields, status=pb.COMMUNICATION_STATUS_BLOCKED, status_reason=decision.reason
                )
            )
            return row
        if decision.action is Action.SCHEDULE:
            row, _ = await self._repo.add_communication(
                NewCommunication(
                    **fields,
                    status=pb.COMMUNICATION_STATUS_SCHEDULED,
                    status_reason=decision.reason,
                    scheduled_time=decision.scheduled_time,
                )
            )
            return row
        # Recorded as claimed before sending: if we die mid-send, the scheduler finishes it.
        row, created = await self._repo.add_communication(
            NewCommunication(
                **fields,
                status=pb.COMMUNICATION_STATUS_SCHEDULED,
                scheduled_time=now,
                claim_until=now + self._lease,
            )
        )
        if not created:
            return row
        result = await delivery.deliver(self._sender, channel, address, message.subject, message.body)
        finished: asyncpg.Record = await self._repo.finish_communication(
            row["communication_id"], result.status, result.reason, result.provider_message_id
        )
        return finished

    async def _notify_agent(self, lead: ingest_pb.Lead, agent: routing_pb.Agent, score: float) -> None:
        lead_id = uuid.UUID(lead.lead_id)
        agent_id = uuid.UUID(agent.agent_id)
        target = notifications.agent_target(agent)
        if target is None:
            await self._notifier.notify(agent_id=agent_id, lead_id=lead_id, step_key=ASSIGNED, target=None)
            return
        message, refused = await writing.write(
            self._peers,
            content_pb.GenerateMessageRequest(
                lead_id=lead.lead_id,
                location_id=lead.location_id,
                channel=target[0],
                purpose=content_pb.MESSAGE_PURPOSE_AGENT_NOTIFICATION,
                context=self._context(lead, agent, score),
                request_id=f"{lead.lead_id}:agent_notification",
            ),
        )
        await self._notifier.notify(
            agent_id=agent_id,
            lead_id=lead_id,
            step_key=ASSIGNED,
            target=target,
            subject=message.subject if message else "",
            body=message.body if message else "",
            refused=refused,
        )
