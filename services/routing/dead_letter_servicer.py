"""RoutingService handlers for the outcome outbox's dead letters: list them, put them back.
Mixed into RoutingServicer, which supplies `_dead_letters`."""

from __future__ import annotations

from leadengine.routing.v1 import routing_service_pb2 as pb

from services.routing.outcome_outbox import DeadLetter, DeadLetters
from shared import outbox, timestamps
from shared.rpc import Context


def _kind(d: DeadLetter) -> pb.OutcomeEventKind.ValueType:
    if d.event.offer_deadline is not None:
        return pb.OUTCOME_EVENT_KIND_OFFER
    return pb.OUTCOME_EVENT_KIND_REASSIGNMENT if d.event.is_move else pb.OUTCOME_EVENT_KIND_OUTCOME


def dead_letter_to_proto(d: DeadLetter) -> pb.DeadLetter:
    event = d.event
    return pb.DeadLetter(
        event_id=str(event.event_id),
        subscriber=d.subscriber,
        kind=_kind(d),
        outcome=event.outcome,  # type: ignore[arg-type]
        lead_id=str(event.lead_id),
        location_id=event.location_id,
        agent_id=str(event.agent_id or ""),
        attempts=d.attempts,
        last_error=d.last_error,
        occurred_time=timestamps.to_proto(event.occurred_time),
        dead_letter_time=timestamps.to_proto(d.dead_letter_time),
    )


class DeadLetterHandlers:
    _dead_letters: DeadLetters

    async def ListDeadLetters(
        self, request: pb.ListDeadLettersRequest, context: Context
    ) -> pb.ListDeadLettersResponse:
        location_id = request.location_id.strip() or None
        subscriber = request.subscriber.strip() or None
        page, token = await outbox.dead_letter_page(
            request.page_size,
            request.page_token,
            f"outcome-dead-letters|{location_id or ''}|{subscriber or ''}",
            lambda after, size: self._dead_letters.page(location_id, subscriber, after, size),
            lambda d: (d.dead_letter_time, d.dead_letter_id),
        )
        return pb.ListDeadLettersResponse(
            dead_letters=[dead_letter_to_proto(d) for d in page], next_page_token=token
        )

    async def ReplayDeadLetters(
        self, request: pb.ReplayDeadLettersRequest, context: Context
    ) -> pb.ReplayDeadLettersResponse:
        event_ids = outbox.replay_selection(request.event_ids, request.all, request.request_id)
        moved = await self._dead_letters.replay(
            event_ids, request.location_id.strip() or None, request.subscriber.strip() or None
        )
        return pb.ReplayDeadLettersResponse(replayed_count=moved)
