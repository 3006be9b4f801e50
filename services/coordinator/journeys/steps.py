"""A journey walking its cadence: after the first touch (step 0), each later step is a
communication row, SCHEDULED at its due time with no body yet. The scheduler claims
it when due, re-checks the gates, has content write it (the step's purpose and
index) and then asks for the next step here. One row per (lead, step_key), the key
scoped to the journey (journeys/keys.py), so repeating any of this schedules nothing twice.
"""

from __future__ import annotations

from leadengine.common.v1 import common_pb2
from leadengine.content.v1 import content_service_pb2 as content_pb
from leadengine.coordinator.v1 import coordinator_service_pb2 as pb

from services.coordinator.compliance.gates import EMAIL, SMS, ContactFacts
from services.coordinator.compliance.repository import ConsentRepository
from services.coordinator.delivery.repository import Communication, CommunicationRepository, NewCommunication
from services.coordinator.journeys import cadence, keys, writing
from services.coordinator.journeys.cadence_repository import CadenceRepository
from services.coordinator.journeys.first_touch import FIRST_TOUCH
from services.coordinator.journeys.repository import Journey, JourneyRepository
from services.coordinator.journeys.unreachable import OPTED_OUT_EVERYWHERE
from shared import contact
from shared.clients import ContentClient

STEP_PREFIX = "step:"
CADENCE_FINISHED = "cadence finished: every step went out or was skipped"


def step_index(message: Communication) -> int | None:
    """The cadence step a row is, when it is one written at send time (of any generation)."""
    _, key = keys.unscoped(message.step_key or "")
    return int(key.removeprefix(STEP_PREFIX)) if key.startswith(STEP_PREFIX) else None


def reachable(facts: ContactFacts) -> bool:
    """Some channel has an address the lead has not opted out of or had suppressed."""
    return any(
        facts.address(ch)
        and not facts.suppression(ch)
        and not (facts.sms_opted_out if ch == SMS else facts.email_opted_out)
        for ch in (SMS, EMAIL)
    )


class CadenceWalker:
    def __init__(
        self,
        cadences: CadenceRepository,
        journeys: JourneyRepository,
        consents: ConsentRepository,
        communications: CommunicationRepository,
        content: ContentClient,
    ) -> None:
        self._cadences = cadences
        self._journeys = journeys
        self._consents = consents
        self._communications = communications
        self._content = content

    async def begin(
        self, journey: Journey, context: content_pb.MessageContext, first: Communication
    ) -> Journey:
        """After the first touch: pin the location's default cadence, schedule step 1."""
        # A pinned cadence exists (the journey's foreign key); only its id is needed here.
        cadence_id = journey.cadence_id or await self._cadences.default_cadence_id(journey.location_id)
        journey = await self._cadences.begin_walk(journey.journey_id, cadence_id, context.SerializeToString())
        return await self.schedule_after(journey, 0, first.channel)

    async def schedule_after(
        self, journey: Journey, index: int, first_channel: common_pb2.Channel.ValueType | None = None
    ) -> Journey:
        """Record the step after `index` as SCHEDULED at its due time (or mark the walk
        done). A lead reachable on no channel stops the journey instead."""
        if not journey.active or journey.cadence_id is None:
            return journey
        facts = await self._consents.find_facts(journey.lead_id) or ContactFacts()
        if not reachable(facts):
            return await self._journeys.stop_journey(
                journey.lead_id, journey.location_id, OPTED_OUT_EVERYWHERE
            )
        walk = await self._cadences.get_cadence(journey.cadence_id)
        if first_channel is None:
            first_channel = await self._first_channel(journey)
        addressable = frozenset(ch for ch in (SMS, EMAIL) if facts.address(ch))
        following = cadence.next_step(walk.steps, index, first_channel, addressable)
        if following is None:
            return await self._cadences.complete_walk(journey.journey_id, len(walk.steps), CADENCE_FINISHED)
        step = walk.steps[following]
        start = journey.first_touch_time or journey.create_time
        # A lead with no known zone walks in UTC days (only email can reach them then).
        due = cadence.step_time(start, step.delay, contact.zone_for(facts.timezone, facts.phone))
        await self._communications.add_communication(
            NewCommunication(
                lead_id=journey.lead_id,
                journey_id=journey.journey_id,
                step_key=journey.key(f"{STEP_PREFIX}{following}"),
                channel=step.channel,
                status=pb.COMMUNICATION_STATUS_SCHEDULED,
                status_reason=f"cadence step {following}: written when due",
                address=facts.address(step.channel),
                scheduled_time=due,
            )
        )
        return await self._cadences.set_next_step(journey.journey_id, following, due)

    async def write(
        self, message: Communication, journey: Journey
    ) -> tuple[content_pb.Message | None, str, str]:
        """Content writes the due step with its purpose; or None, why it refused, and the
        id of a suggest-mode draft held for approval ("" when content refused outright)."""
        index = step_index(message)
        assert index is not None
        assert journey.cadence_id is not None
        walk, stored_context = await self._cadences.cadence_and_context(
            journey.cadence_id, journey.journey_id
        )
        purpose = walk.steps[index].purpose if index < len(walk.steps) else cadence.FOLLOW_UP
        context = content_pb.MessageContext.FromString(stored_context)
        return await writing.write_or_hold(
            self._content,
            content_pb.GenerateMessageRequest(
                lead_id=str(journey.lead_id),
                location_id=journey.location_id,
                channel=message.channel,
                purpose=purpose,
                context=context,
                request_id=f"{journey.lead_id}:{journey.key(f'{STEP_PREFIX}{index}')}",
                step_index=index,
            ),
        )

    async def after_settled(self, message: Communication) -> None:
        """A step went out, or was blocked for good: schedule the next one. A step the
        walk has passed (an approved draft sent late) schedules nothing again."""
        index = step_index(message)
        journey = await self._journeys.journey_of(message.lead_id, message.journey_id)
        if index is not None and journey is not None and journey.step_index <= index:
            await self.schedule_after(journey, index)

    async def _first_channel(self, journey: Journey) -> common_pb2.Channel.ValueType:
        first = await self._communications.find_step(journey.lead_id, journey.key(FIRST_TOUCH))
        return first.channel if first is not None else common_pb2.CHANNEL_UNSPECIFIED
