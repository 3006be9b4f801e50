"""IngestService handlers for the outbox's dead letters: list them, put them back.
Mixed into IngestServicer, which supplies `_dead_letters`."""

from __future__ import annotations

from leadengine.ingest.v1 import ingest_service_pb2 as pb

from services.ingest.repository.outbox import DeadLetter, DeadLetters
from shared import outbox, timestamps
from shared.rpc import Context


def dead_letter_to_proto(d: DeadLetter) -> pb.DeadLetter:
    return pb.DeadLetter(
        event_id=str(d.event_id),
        kind=d.kind,
        lead_id=str(d.lead_id) if d.lead_id is not None else "",
        location_id=d.location_id,
        attempts=d.attempts,
        last_error=d.last_error,
        occurred_time=timestamps.to_proto(d.occurred_time),
        dead_letter_time=timestamps.to_proto(d.dead_letter_time),
    )


class DeadLetterHandlers:
    _dead_letters: DeadLetters

    async def ListDeadLetters(
        self, request: pb.ListDeadLettersRequest, context: Context
    ) -> pb.ListDeadLettersResponse:
        location_id = request.location_id.strip() or None
        page, token = await outbox.dead_letter_page(
            request.page_size,
            request.page_token,
            f"dead-letters|{location_id or ''}",
            lambda after, size: self._dead_letters.page(location_id, after, size),
            lambda d: (d.dead_letter_time, d.event_id),
        )
        return pb.ListDeadLettersResponse(
            dead_letters=[dead_letter_to_proto(d) for d in page], next_page_token=token
        )

    async def ReplayDeadLetters(
        self, request: pb.ReplayDeadLettersRequest, context: Context
    ) -> pb.ReplayDeadLettersResponse:
        event_ids = outbox.replay_selection(request.event_ids, request.all, request.request_id)
        moved = await self._dead_letters.replay(event_ids, request.location_id.strip() or None)
        return pb.ReplayDeadLettersResponse(replayed_count=moved)
