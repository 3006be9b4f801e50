"""Behaviour-timed touches: a BEHAVIOR event from ingest's outbox asks intelligence which
trigger rules it fired (FireTriggers), and each firing becomes a `trigger` touch a few
minutes out, written by content with what happened; a hot firing also tells the agent.

Nothing is lost across restarts: the event is acknowledged to ingest's outbox only after
all of this is recorded, a redelivery asks FireTriggers again with the same request_id
(and gets the same firings), and the touch and the alert are rows keyed by the firing,
so a repeat finds them and records nothing twice.

A touch passes, in order: the journey (active, not paused), the rule's suppression
window (no second touch from one rule within it), the per-lead cap on trigger touches,
the consent gates, content's guardrails, and quiet hours at its due time. The scheduler
checks the gates again when it sends it, and a reply before then blocks it.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from leadengine.common.v1 import common_pb2
from leadengine.content.v1 import content_service_pb2 as content_pb
from leadengine.coordinator.v1 import coordinator_service_pb2 as pb
from leadengine.intelligence.v1 import intelligence_service_pb2 as intelligence_pb

from services.coordinator.compliance import evaluation, gates
from services.coordinator.compliance.gates import Action, ContactFacts
from services.coordinator.compliance.repository import ConsentRepository
from services.coordinator.compliance.rules import TimeRule
from services.coordinator.delivery.repository import Communication, CommunicationRepository, NewCommunication
from services.coordinator.envelope import Envelope
from services.coordinator.journeys import writing
from services.coordinator.journeys.cadence_repository import CadenceRepository
from services.coordinator.journeys.repository import Journey, JourneyRepository
from services.coordinator.notifications import held_for_review, notifier
from services.coordinator.notifications.held_later import HeldNotices
from services.coordinator.notifications.notifier import AgentNotifier
from services.coordinator.triggers.repository import TriggerTouchRepository
from shared.clients import ContentClient, IntelligenceClient, RoutingClient

log = logging.getLogger(__name__)

TRIGGER_PREFIX = "trigger:"


@dataclass(frozen=True)
class TouchLimits:
    # How long after a firing its touch is due: "within minutes", so a burst of views
    # settles and a person who calls first can still stop it.
    delay: timedelta
    # At most `cap` trigger touches per lead within `cap_window`.
    cap: int
    cap_window: timedelta


def step_key(firing: intelligence_pb.TriggerFiring) -> str:
    return f"{TRIGGER_PREFIX}{firing.rule_id}:{firing.firing_id}"


def _hours(d: timedelta) -> str:
    hours = d.total_seconds() / 3600
    return f"{hours / 24:g} days" if hours >= 48 else f"{hours:g} hours"


def alert_text(
    who: str, firing: intelligence_pb.TriggerFiring, touch: Communication | None
) -> tuple[str, str]:
    """(subject, body) telling an agent a lead is active now. An operational note to our
    own user, written here like the reply notice, never lead-facing."""
    who = who.strip() or "Your lead"
    if touch is None:
        outcome = "No automated message: the journey is not active."
    elif touch.status == pb.COMMUNICATION_STATUS_BLOCKED:
        outcome = f"No automated message: {touch.status_reason}."
    else:
        how = "text" if touch.channel == gates.SMS else "email"
        when = f" at {touch.scheduled_time:%H:%M} UTC" if touch.scheduled_time else ""
        outcome = f"An automated {how} is scheduled{when}."
    return (
        f"{who} is active now",
        f"{who}: {firing.description}. {outcome} A call while they are looking beats any message.",
    )


class TriggerTouches:
    def __init__(
        self,
        journeys: JourneyRepository,
        consents: ConsentRepository,
        communications: CommunicationRepository,
        touches: TriggerTouchRepository,
        cadences: CadenceRepository,
        notifier: AgentNotifier,
        *,
        intelligence: IntelligenceClient,
        content: ContentClient,
        routing: RoutingClient,
        window: TimeRule | None,
        limits: TouchLimits,
        clock: Callable[[], datetime],
    ) -> None:
        self._journeys = journeys
        self._consents = consents
        self._communications = communications
        self._touches = touches
        self._cadences = cadences
        self._notifier = notifier
        self._held = HeldNotices(notifier, routing, cadences)
        self._intelligence = intelligence
        self._content = content
        self._routing = routing
        self._window = window
        self._limits = limits
        self._clock = clock

    async def on_behavior(self, ev: Envelope) -> None:
        firings = await self._intelligence.fire_triggers(
            ev.lead, request_id=f"{ev.event_id}:triggers", location_id=ev.location_id
        )
        if not firings:
            return
        journey = await self._journeys.find_journey(ev.lead)
        if journey is None:
            # No journey (an imported lead no campaign enrolled): it stays silent. The
            # firing is kept by intelligence for whoever looks.
            log.info("trigger fired for a lead without a journey", extra={"lead_id": str(ev.lead)})
            return
        for firing in firings:
            touch = await self.touch(journey, firing) if journey.active else None
            if touch is not None and held_for_review.is_held(touch):
                # Also on a redelivery (the touch found, not made): a failed notice is retried.
                await self._held.held(journey, touch, touch.status_reason)
            if firing.hot and journey.agent_id is not None:
                await self._alert(journey, firing, touch)

    async def touch(self, journey: Journey, firing: intelligence_pb.TriggerFiring) -> Communication:
        """The firing's touch as recorded: scheduled a few minutes out, held for the lead's
        window, or blocked with the reason."""
        key = step_key(firing)
        found = await self._communications.find_step(journey.lead_id, key)
        if found is not None:
            return found
        base: dict[str, Any] = {"lead_id": journey.lead_id, "journey_id": journey.journey_id, "step_key": key}

        async def blocked(
            channel: common_pb2.Channel.ValueType, address: str, reason: str, pending: str = ""
        ) -> Communication:
            row, _ = await self._communications.add_communication(
                NewCommunication(
                    **base,
                    channel=channel,
                    address=address,
                    status=pb.COMMUNICATION_STATUS_BLOCKED,
                    status_reason=reason,
                    # Suggest mode: SendApprovedMessage sends it once an agent approves.
                    message_id=pending,
                    awaiting_approval=bool(pending),
                )
            )
            return row

        none = common_pb2.CHANNEL_UNSPECIFIED
        now = self._clock()
        if journey.paused_at(now):
            return await blocked(none, "", f"journey paused: {journey.pause_reason}")
        held = await self._held_back(journey.lead_id, firing, now)
        if held:
            return await blocked(none, "", held)
        facts = await self._consents.find_facts(journey.lead_id) or ContactFacts()
        channel, address, refused = gates.lawful_channel(facts)
        if refused:
            return await blocked(channel, address, refused)
        written, refused, pending = await writing.write_or_hold(
            self._content,
            content_pb.GenerateMessageRequest(
                lead_id=str(journey.lead_id),
                location_id=journey.location_id,
                channel=channel,
                purpose=content_pb.MESSAGE_PURPOSE_TRIGGER,
                context=await self._context(journey, firing),
                request_id=f"{journey.lead_id}:{key}",
            ),
        )
        if written is None:
            return await blocked(channel, address, refused, pending)
        due = now + self._limits.delay
        # The scheduler checks every gate again, caps included, when the touch is due.
        decision = evaluation.plan(channel, address, facts, due, self._window)
        fields: dict[str, Any] = {
            **base,
            "channel": channel,
            "address": address,
            "subject": written.subject,
            "body": written.body,
            "message_id": written.message_id,
        }
        if decision.action is Action.BLOCK:
            status, reason, when = pb.COMMUNICATION_STATUS_BLOCKED, decision.reason, None
        elif decision.action in (Action.SCHEDULE, Action.HOLD):
            # Held for review (zone unknown): SCHEDULED with no time, as the first touch does.
            status, reason, when = pb.COMMUNICATION_STATUS_SCHEDULED, decision.reason, decision.scheduled_time
        else:
            status, reason, when = pb.COMMUNICATION_STATUS_SCHEDULED, f"trigger: {firing.description}", due
        row, _ = await self._communications.add_communication(
            NewCommunication(**fields, status=status, status_reason=reason, scheduled_time=when)
        )
        return row

    async def _held_back(
        self, lead_id: uuid.UUID, firing: intelligence_pb.TriggerFiring, now: datetime
    ) -> str:
        """Why the rule's suppression window or the lead's cap holds this touch back, or ""."""
        suppression = firing.suppression.ToTimedelta()
        rule_prefix = f"{TRIGGER_PREFIX}{firing.rule_id}:"
        if suppression > timedelta(0) and await self._touches.count_since(
            lead_id, rule_prefix, now - suppression
        ):
            within = _hours(suppression)
            return f"trigger suppressed: rule {firing.rule_id} already touched this lead within {within}"
        limits = self._limits
        if await self._touches.count_since(lead_id, TRIGGER_PREFIX, now - limits.cap_window) >= limits.cap:
            return f"trigger-touch cap: {limits.cap} in {_hours(limits.cap_window)} reached for this lead"
        return ""

    async def _context(
        self, journey: Journey, firing: intelligence_pb.TriggerFiring
    ) -> content_pb.MessageContext:
        """What the first touch knew of the lead and agent, plus what just happened."""
        context = content_pb.MessageContext.FromString(
            await self._cadences.message_context(journey.journey_id)
        )
        context.trigger_description = firing.description
        context.listing_label = firing.listing_label
        return context

    async def _alert(
        self, journey: Journey, firing: intelligence_pb.TriggerFiring, touch: Communication | None
    ) -> None:
        assert journey.agent_id is not None
        agent = await notifier.current_agent(
            self._routing, journey.lead_id, journey.location_id, journey.agent_id
        )
        context = content_pb.MessageContext.FromString(
            await self._cadences.message_context(journey.journey_id)
        )
        subject, body = alert_text(context.lead_full_name or context.lead_first_name, firing, touch)
        await self._notifier.notify(
            agent_id=uuid.UUID(agent.agent_id),
            lead_id=journey.lead_id,
            step_key=f"{TRIGGER_PREFIX}{firing.firing_id}",
            target=notifier.agent_target(agent),
            subject=subject,
            body=body,
        )
