"""RecordWebhook: store each provider event raw, normalise it, apply it; one transaction.

Each event's inbox row is inserted first (the provider's event id is the
primary key, so a redelivery conflicts there and does nothing more); then its
effects run inside a SAVEPOINT, so an event that cannot be applied rolls back
alone and stays stored with the reason.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime

import asyncpg

from services.ingest import matching, webhook_effects, webhooks
from services.ingest.repository import inbox as inbox_rows
from services.ingest.webhook_effects import WebhookOutcome
from services.ingest.webhooks.envelope import InboxEvent
from shared.db import Conn, Database
from shared.errors import DeadlineExceeded, DomainError, Unavailable


def _read(event: InboxEvent, receive_time: datetime) -> WebhookOutcome | webhooks.Parsed:
    """What the event asks for, or, when it asks for nothing we can do, its final outcome."""
    try:
        parsed = webhooks.parse(
            event.provider, event.event_type, event.payload, event.location_id, receive_time
        )
    except webhooks.PayloadError as err:
        location_id = err.location_id or event.location_id
        return WebhookOutcome(event.provider_event_id, "stored_only", err.detail, location_id=location_id)
    if isinstance(parsed.action, webhooks.NoAction):
        return WebhookOutcome(
            event.provider_event_id, "stored_only", parsed.action.detail, location_id=parsed.location_id
        )
    return parsed


class WebhookRecorder:
    def __init__(self, db: Database, outbox_written: asyncio.Event) -> None:
        self._db = db
        self._outbox_written = outbox_written

    async def record(self, events: Sequence[InboxEvent], receive_time: datetime) -> list[WebhookOutcome]:
        # Parsing is pure, so it happens before the transaction opens and holds nothing.
        readings = [_read(event, receive_time) for event in events]
        try:
            async with self._db.transaction() as conn:
                fresh = await self._claim(conn, events, readings, receive_time)
                results: dict[int, WebhookOutcome] = {}
                for index in fresh:
                    reading = readings[index]
                    if isinstance(reading, WebhookOutcome):  # stored with its final outcome by _claim
                        results[index] = reading
                        continue
                    outcome = await self._apply_in_savepoint(conn, events[index], reading)
                    await inbox_rows.settle(
                        conn,
                        provider=events[index].provider,
                        provider_event_id=events[index].provider_event_id,
                        outcome=outcome.outcome,
                        detail=outcome.detail,
                        lead_id=outcome.lead_id,
                        location_id=outcome.location_id,
                    )
                    results[index] = outcome
                for index, event in enumerate(events):
                    if index not in results:
                        stored = await inbox_rows.stored(conn, event.provider, event.provider_event_id)
                        results[index] = WebhookOutcome(
                            event.provider_event_id,
                            stored.outcome,
                            stored.detail,
                            stored.lead_id,
                            stored.location_id,
                            duplicate=True,
                        )
        except (asyncpg.DeadlockDetectedError, asyncpg.SerializationError) as err:
            # Two deliveries touched the same rows in opposite orders; nothing was committed.
            raise Unavailable(
                "webhook events collided with a concurrent delivery; retry the same request",
                reason="WEBHOOK_CONFLICT",
            ) from err
        if any(r.published for r in results.values()):
            self._outbox_written.set()
        return [results[i] for i in range(len(events))]

    async def _claim(
        self,
        conn: Conn,
        events: Sequence[InboxEvent],
        readings: Sequence[WebhookOutcome | webhooks.Parsed],
        receive_time: datetime,
    ) -> list[int]:
        """Insert the inbox rows. Returns the indexes of events not stored before, in request
        order. An event that needs no effects is stored with its final outcome; the others as
        'received' until they are applied.

        Inserted in key order, so two deliveries sharing events never wait on each other in a
        cycle. A concurrent delivery of the same event waits here for the first one to commit,
        then finds it stored: the unique key makes exactly one of them act."""
        fresh: list[int] = []
        order = sorted(range(len(events)), key=lambda i: (events[i].provider, events[i].provider_event_id))
        for index in order:
            event, reading = events[index], readings[index]
            if isinstance(reading, WebhookOutcome):
                outcome, detail, location_id = reading.outcome, reading.detail, reading.location_id
            else:
                outcome, detail, location_id = "received", "", reading.location_id
            inserted = await inbox_rows.insert(
                conn,
                provider=event.provider,
                provider_event_id=event.provider_event_id,
                event_type=event.event_type,
                location_id=location_id,
                payload=event.payload,
                receive_time=receive_time,
                outcome=outcome,
                detail=detail,
            )
            if inserted:
                fresh.append(index)
        return sorted(fresh)

    async def _apply_in_savepoint(
        self, conn: Conn, event: InboxEvent, parsed: webhooks.Parsed
    ) -> WebhookOutcome:
        provider_event_id, location_id = event.provider_event_id, parsed.location_id
        try:
            async with conn.transaction():  # a SAVEPOINT: this event's effects, or none of them
                return await webhook_effects.apply(conn, provider_event_id, parsed)
        except matching.Unmatched as err:
            return WebhookOutcome(
                provider_event_id, "unmatched", err.detail, location_id=err.location_id or location_id
            )
        except webhooks.PayloadError as err:
            return WebhookOutcome(provider_event_id, "stored_only", err.detail, location_id=location_id)
        except DomainError as err:
            if isinstance(err, Unavailable | DeadlineExceeded):
                raise  # not the payload's fault: the whole delivery must be retried
            return WebhookOutcome(
                provider_event_id, "stored_only", err.message[: webhooks.MAX_DETAIL], location_id=location_id
            )
        except asyncpg.DataError as err:
            return WebhookOutcome(
                provider_event_id,
                "stored_only",
                f"a value cannot be stored: {type(err).__name__}",
                location_id=location_id,
            )
