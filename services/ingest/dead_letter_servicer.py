"""IngestService handlers for the outbox's dead letters: list them, put them back.
Mixed into IngestServicer, which supplies `_dead_letters`."""

from __future__ import annotations

from leadengine.ingest.v1 import ingest_service_pb2 as pb

from services.ingest.repository.outbox import DeadLetter, DeadLetters
from shared import inputs, pagination, timestamps
from shared.errors import FieldViolation, InvalidArgument
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
        size = pagination.page_size(request.page_size)
        location_id = request.location_id.strip() or None
        query = f"dead-letters|{location_id or ''}"
        after = pagination.decode_cursor(request.page_token, pagination.time_and_uuid, query=query)
        found = await self._dead_letters.page(location_id, after, size)
        page, token = pagination.page_of(
            found,
            size,
            lambda d: {"t": d.dead_letter_time.isoformat(), "id": str(d.event_id)},
            query=query,
        )
        return pb.ListDeadLettersResponse(
            dead_letters=[dead_letter_to_proto(d) for d in page], next_page_token=token
        )

    async def ReplayDeadLetters(
        self, request: pb.ReplayDeadLettersRequest, context: Context
    ) -> pb.ReplayDeadLettersResponse:
        # Replaying is idempotent by its nature (a replayed row is no longer a dead letter).
        inputs.request_key(request.request_id)
        if request.all == bool(request.event_ids):
            raise InvalidArgument(
                "name the event_ids to replay, or set all (not both)",
                reason="MISSING_FIELD" if not request.all else "INVALID_ARGUMENT",
                violations=[FieldViolation("event_ids", "event ids, or empty with all")],
            )
        event_ids = (
            None
            if request.all
            else [
                inputs.parse_uuid(raw, f"event_ids[{i}]", what="event id")
                for i, raw in enumerate(request.event_ids)
            ]
        )
        moved = await self._dead_letters.replay(event_ids, request.location_id.strip() or None)
        return pb.ReplayDeadLettersResponse(replayed_count=moved)
