"""A lead's journey on lead events (created, updated, deleted, behaviour): the thin journey.

Every step is safe to repeat, because ingest's outbox redelivers an event until it
is acknowledged: downstream calls carry request_ids derived from the event or lead,
and each message is a row keyed by (lead, step_key), the key scoped to the journey.
The event is marked handled only after all of it worked. No database transaction is open while we wait on
another service.
"""

from __future__ import annotations

import logging
import uuid

import grpc
from leadengine.content.v1 import content_service_pb2 as content_pb
from leadengine.coordinator.v1 import coordinator_service_pb2 as pb
from leadengine.ingest.v1 import ingest_service_pb2 as ingest_pb
from leadengine.routing.v1 import routing_service_pb2 as routing_pb

from services.coordinator.compliance import gates
from services.coordinator.compliance.gates import ContactFacts
from services.coordinator.compliance.policy import ConsentPolicies
from services.coordinator.delivery.enrichment import ContactEnricher
from services.coordinator.envelope import Envelope
from services.coordinator.journeys import inquiry, reply_guard, writing
from services.coordinator.journeys.first_touch import FirstTouch, message_context
from services.coordinator.journeys.repository import Journey, JourneyRepository
from services.coordinator.journeys.steps import CadenceWalker
from services.coordinator.notifications import held_for_review, needs_call, notifier, templates
from services.coordinator.notifications.notifier import AgentNotifier
from services.coordinator.triggers.touches import TriggerTouches
from shared.clients import ContentClient, IngestClient, IntelligenceClient, PeerError, RoutingClient, Unrouted
from shared.errors import NotFound

log = logging.getLogger(__name__)

ASSIGNED = "assigned"
LEAD_DELETED = "lead deleted"


class JourneyRunner:
    def __init__(
        self,
        journeys: JourneyRepository,
        consents: ConsentPolicies,
        first_touch: FirstTouch,
        notifier: AgentNotifier,
        *,
        ingest: IngestClient,
        intelligence: IntelligenceClient,
        routing: RoutingClient,
        content: ContentClient,
        brand_name: str,
        steps: CadenceWalker | None = None,
        triggers: TriggerTouches | None = None,
        enricher: ContactEnricher | None = None,
        inquiries: inquiry.Inquiries | None = None,
    ) -> None:
        self._inquiries = inquiries
        self._enricher = enricher
        self._journeys = journeys
        self._consents = consents
        self._first_touch = first_touch
        self._notifier = notifier
        self._ingest = ingest
        self._intelligence = intelligence
        self._routing = routing
        self._content = content
        self._brand = brand_name
        self._steps = steps
        self._triggers = triggers

    async def handle(self, ev: Envelope) -> Journey | None:
        """Act on a lead kind; returns the journey as it now stands."""
        if ev.kind == pb.LEAD_EVENT_KIND_LEAD_DELETED:
            await self._intelligence.forget_lead(ev.lead, ev.location_id, request_id=f"{ev.event_id}:forget")
            return await self._journeys.stop_journey(ev.lead, ev.location_id, LEAD_DELETED)
        if ev.kind in (pb.LEAD_EVENT_KIND_LEAD_CREATED, pb.LEAD_EVENT_KIND_LEAD_UPDATED):
            return await self._lead_changed(ev)
        if self._inquiries is not None and inquiry.is_inquiry(ev.kind, ev.behavior_type):
            answered = await self._answer_inquiry(ev)
            if answered is not None:
                # The new journey's first touch answers the inquiry: no trigger touch on top.
                return answered
        journey = await self._rescore(ev)  # BEHAVIOR: the score moves, and rules may fire
        if self._triggers is None:
            return journey
        await self._triggers.on_behavior(ev)
        return await self._journeys.find_journey(ev.lead)

    async def _lead_changed(self, ev: Envelope) -> Journey | None:
        journey = await self._journeys.find_journey(ev.lead)
        if journey is not None and journey.stopped:
            return journey  # a stopped journey never restarts on a late or repeated event
        if journey is None and ev.kind == pb.LEAD_EVENT_KIND_LEAD_UPDATED:
            # Only LEAD_CREATED starts a journey (ingest publishes a lead's events in order).
            # A lead updated without one was imported (ImportLeads publishes nothing): it
            # stays silent until a recovery campaign enrols it.
            return None
        lead = await self._lead(ev)
        if lead.HasField("delete_time"):
            return await self._journeys.stop_journey(ev.lead, lead.location_id, LEAD_DELETED)
        untouched = journey is None or journey.first_touch_time is None
        if self._enricher is not None and ev.kind == pb.LEAD_EVENT_KIND_LEAD_CREATED and untouched:
            # Before the consent record: a DND or time zone HighLevel knows gates the first touch.
            lead = await self._enricher.enrich(ev.event_id, lead)
        consent = await self._consents.record(ev.lead, lead)
        score = await self._score(ev, lead)
        started = journey is not None and journey.first_touch_time is not None
        if ev.kind == pb.LEAD_EVENT_KIND_LEAD_UPDATED and started:
            await self._journeys.set_score(ev.lead, score)
            return await self._journeys.find_journey(ev.lead)
        # A first event, or a retry of one that failed part-way: every step below is
        # idempotent, so running them again finishes what is missing.
        return await self._start(ev, lead, consent.facts, score)

    async def _answer_inquiry(self, ev: Envelope) -> Journey | None:
        """A returning lead's new inquiry (journeys/inquiry.py): its next journey, first-touched
        now, or None when the inquiry starts none. Safe to repeat after a failure part-way."""
        assert self._inquiries is not None
        answer = await self._inquiries.journey_for(ev.lead, ev.location_id, ev.event_id)
        if answer.to_agent is not None:
            # Recently replied (journeys/reply_guard.py): the agent answers, automation does not.
            lead = await self._lead(ev)
            await reply_guard.tell_agent(self._notifier, self._routing, answer.to_agent, lead, ev.event_id)
            return None
        journey = answer.journey
        if journey is None:
            return None
        lead = await self._lead(ev)
        if lead.HasField("delete_time"):
            return await self._journeys.stop_journey(ev.lead, lead.location_id, LEAD_DELETED)
        if self._enricher is not None and journey.first_touch_time is None:
            # As for a new lead: a DND or time zone HighLevel knows gates the first touch.
            lead = await self._enricher.enrich(ev.event_id, lead)
        return await self.enrol(journey, lead, content_pb.MESSAGE_PURPOSE_FIRST_TOUCH)

    async def _rescore(self, ev: Envelope) -> Journey | None:
        journey = await self._journeys.find_journey(ev.lead)
        if journey is not None and not journey.active:
            return journey  # a deleted lead's data is erased: nothing left to score
        # A lead with a journey was scored when it started, so intelligence knows its location;
        # one without may never have been, and intelligence reads a lead from ingest only for a
        # known location (#15): send it the lead.
        score = await self._score(ev, await self._lead(ev) if journey is None else None)
        if journey is None:
            return None
        await self._journeys.set_score(ev.lead, score)
        return await self._journeys.find_journey(ev.lead)

    async def _start(self, ev: Envelope, lead: ingest_pb.Lead, facts: ContactFacts, score: float) -> Journey:
        agent, agent_reason = await self._route(ev.event_id, ev.lead, lead, score)
        agent_id = uuid.UUID(agent.agent_id) if agent is not None else None
        journey = await self._journeys.start_journey(ev.lead, lead.location_id, agent_id, agent_reason, score)
        return await self._first_steps(journey, lead, agent, facts)

    async def enrol(
        self, journey: Journey, lead: ingest_pb.Lead, purpose: content_pb.MessagePurpose.ValueType
    ) -> Journey:
        """A campaign enrolled the lead: `journey` was just created for it (pinned to the
        campaign's cadence); consent, score, agent and first touch follow as for a new
        lead, the first touch written for `purpose`. Safe to repeat after a failure."""
        consent = await self._consents.record(journey.lead_id, lead)
        key = f"{journey.journey_id}:enrol"
        scored = await self._intelligence.score_lead(journey.lead_id, request_id=f"{key}:score", lead=lead)
        score = float(scored.score)
        agent, agent_reason = await self._route(key, journey.lead_id, lead, score)
        agent_id = uuid.UUID(agent.agent_id) if agent is not None else None
        journey = await self._journeys.start_journey(
            journey.lead_id, lead.location_id, agent_id, agent_reason, score
        )
        return await self._first_steps(journey, lead, agent, consent.facts, purpose)

    async def _first_steps(
        self,
        journey: Journey,
        lead: ingest_pb.Lead,
        agent: routing_pb.Agent | None,
        facts: ContactFacts,
        purpose: content_pb.MessagePurpose.ValueType = content_pb.MESSAGE_PURPOSE_FIRST_TOUCH,
    ) -> Journey:
        if journey.stopped:
            return journey  # stopped by a deletion while we were routing
        score = float(journey.score or 0.0)
        touch = await self._first_touch.run(journey, lead, agent, facts, purpose)
        journey = await self._journeys.set_first_touch(journey.journey_id, touch.create_time)
        if self._steps is not None:  # step 0 was the first touch; schedule step 1
            journey = await self._steps.begin(
                journey, message_context(lead, agent, score, self._brand), touch
            )
        if agent is not None:
            await self._notify_agent(lead, agent, score, journey)
            emailed = touch.channel == gates.EMAIL and touch.status != pb.COMMUNICATION_STATUS_BLOCKED
            await needs_call.notify_if_needed(
                self._notifier, lead, agent, facts, emailed, journey.key(needs_call.NEEDS_CALL)
            )
            await held_for_review.notify_if_held(
                self._notifier, lead, agent, touch, journey.key(held_for_review.HELD_FOR_REVIEW)
            )
        return journey

    async def _lead(self, ev: Envelope) -> ingest_pb.Lead:
        """The lead as the event carried it (LEAD_CREATED / LEAD_UPDATED from ingest's
        outbox), else as ingest holds it now."""
        if ev.snapshot is not None:
            return ev.snapshot
        lead = await self._ingest.get_lead(ev.lead, ev.location_id)
        if lead is None:
            raise NotFound(
                f"ingest does not know lead {ev.lead}; the event cannot be handled",
                reason="LEAD_NOT_FOUND",
                metadata={"lead_id": str(ev.lead)},
            )
        return lead

    async def _score(self, ev: Envelope, lead: ingest_pb.Lead | None) -> float:
        """Scored now; with the lead we hold, so intelligence need not read it back."""
        intelligence = await self._intelligence.score_lead(
            ev.lead, request_id=f"{ev.event_id}:score", lead=lead
        )
        return float(intelligence.score)

    async def _route(
        self, key: str, lead_id: uuid.UUID, lead: ingest_pb.Lead, score: float
    ) -> tuple[routing_pb.Agent | None, str]:
        """The lead's agent, or None and why no agent could take it."""
        routed = await self._routing.route_lead(
            lead_id, location_id=lead.location_id, score=score, request_id=f"{key}:route", lead=lead
        )
        if isinstance(routed, Unrouted):
            # The lead still gets its first touch; a person can assign it later.
            log.warning("lead not routed", extra={"lead_id": str(lead_id), "reason": routed.why})
            return None, f"no agent available: {routed.why}"
        if not routed.agent.agent_id:
            # RouteLeadResponse.agent is new, and a routing that predates it leaves it empty:
            # ask for the agent then. Remove once every routing fills it.
            agent_id = uuid.UUID(routed.assignment.agent_id)
            return await notifier.known_agent(self._routing, agent_id, lead.location_id), ""
        return routed.agent, ""

    async def _notify_agent(
        self, lead: ingest_pb.Lead, agent: routing_pb.Agent, score: float, journey: Journey
    ) -> None:
        lead_id = uuid.UUID(lead.lead_id)
        assigned = journey.key(ASSIGNED)
        agent_id = uuid.UUID(agent.agent_id)
        target = notifier.agent_target(agent)
        if target is None or target.blocked:
            await self._notifier.notify(agent_id=agent_id, lead_id=lead_id, step_key=assigned, target=target)
            return
        template_reason = ""
        try:
            message, refused = await writing.write(
                self._content,
                content_pb.GenerateMessageRequest(
                    lead_id=lead.lead_id,
                    location_id=lead.location_id,
                    channel=target.channel,
                    purpose=content_pb.MESSAGE_PURPOSE_AGENT_NOTIFICATION,
                    context=message_context(lead, agent, score, self._brand),
                    request_id=f"{lead.lead_id}:{journey.key('agent_notification')}",
                ),
            )
        except PeerError as err:
            if err.code not in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                raise
            # The agent must hear of the lead now, not when content is back.
            message, refused = None, f"content unavailable: {err.code.name}"
        if message is not None:
            subject, body = message.subject, templates.with_contact(message.body, lead)
        else:
            subject, body = templates.new_lead(lead, score)
            template_reason = f"fixed template: {refused}"
        await self._notifier.notify(
            agent_id=agent_id,
            lead_id=lead_id,
            step_key=assigned,
            target=target,
            subject=subject,
            body=body,
            template_reason=template_reason,
        )
