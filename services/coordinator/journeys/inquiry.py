"""A returning lead's new inquiry starts its next journey (speed to lead for known contacts).

What counts as a new inquiry: a BEHAVIOR event whose behaviour is `form_submit` (ingest's
EVENT_TYPE_FORM_SUBMIT, recorded through RecordEvent). It is the one signal in the outbox that
means "this person asked us something again": ingest dedups a known contact onto its lead, so a
portal or CRM re-submission of the same contact arrives as LEAD_UPDATED, which any field edit
(or a sync) also produces and which carries no intent; LEAD_CREATED is only ever a lead ingest
did not know.

It starts a new journey (the next generation, its own step keys) only when the lead's current
journey ended by an end a recovery may follow (journeys/recovery.py: the cadence finished, or
"lead replied"), never after an opt-out, a conversion, a deletion or a person's stop, and never
for a lead opted out of every channel. A lead with an ACTIVE journey keeps it (the event's
triggers act there); a lead without any journey (imported, silent until a campaign) is left to
campaigns. The new journey is first-touched and routed like an enrolled lead
(JourneyRunner.enrol): routing answers the lead's existing assignment when it has one, so the
agent who knew the lead keeps it, and routes it as new when it was in the pond or never
assigned. Every compliance gate applies to its messages as to any other.

A lead who replied recently is the agent's (journeys/reply_guard.py): when the journey ended
"lead replied", names an agent, and the lead's last inbound message is newer than
COORDINATOR_INQUIRY_AFTER_REPLY_HOURS, no journey starts; the agent is told instead, once per event.

Exactly once: the journey records the event that started it (unique), so a redelivery after a
failure part-way finds that journey and finishes it, and a duplicate never starts another.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from leadengine.coordinator.v1 import coordinator_service_pb2 as pb

from services.coordinator.journeys import recovery, reply_guard
from services.coordinator.journeys.repository import Journey, journey_from_row, lock_lead_journeys
from shared import deadlines, timestamps
from shared.db import Database

# Behaviour types (ingest's event type names, lower case) that are a new inquiry.
INQUIRY_BEHAVIORS = frozenset({"form_submit"})
ACTIVE = pb.JOURNEY_STATE_ACTIVE


def is_inquiry(kind: pb.LeadEventKind.ValueType, behavior_type: str) -> bool:
    return kind == pb.LEAD_EVENT_KIND_BEHAVIOR and behavior_type.lower() in INQUIRY_BEHAVIORS


@dataclass(frozen=True)
class Answer:
    # The journey this inquiry starts (or started, on a redelivery); None when it starts none.
    journey: Journey | None = None
    # Held for the agent (reply_guard): the ended journey whose agent hears of the inquiry.
    to_agent: Journey | None = None


class Inquiries:
    def __init__(
        self,
        db: Database,
        after_reply_h: float = reply_guard.DEFAULT_HOURS,
        clock: Callable[[], datetime] = timestamps.now,
    ) -> None:
        self._db = db
        self._after_reply = timedelta(hours=after_reply_h) if after_reply_h > 0 else None
        self._clock = clock

    async def journey_for(self, lead_id: uuid.UUID, location_id: str, event_id: str) -> Answer:
        """What this inquiry does. Concurrent inquiries and enrolments serialize on the lead's
        journey lock; the insert arbitrates on the one current journey a lead may have."""
        since = None if self._after_reply is None else self._clock() - self._after_reply
        async with self._db.transaction() as conn:
            await lock_lead_journeys(conn, lead_id)
            current = await conn.fetchrow(
                "SELECT j.*, " + recovery.sql_recoverable("j") + " AS recoverable,"
                " EXISTS (SELECT 1 FROM consents c WHERE c.lead_id = j.lead_id"
                "  AND c.sms_opted_out AND c.email_opted_out) AS opted_out_everywhere,"
                " " + reply_guard.sql_held("j", "$2", "$3") + " AS held"
                " FROM journeys j WHERE j.lead_id = $1 AND j.current FOR UPDATE OF j",
                lead_id,
                since,
                reply_guard.step_key(event_id),
                timeout=deadlines.timeout(2.0),
            )
            if current is None or current["location_id"] != location_id:
                return Answer()
            if current["inquiry_event_id"] == event_id:
                # This inquiry's journey, retried; once it ended there is nothing to finish.
                return Answer(journey_from_row(current) if current["state"] == ACTIVE else None)
            started_before = await conn.fetchval(
                "SELECT EXISTS (SELECT 1 FROM journeys WHERE inquiry_event_id = $1)",
                event_id,
                timeout=deadlines.timeout(2.0),
            )
            if started_before or current["state"] == ACTIVE:
                return Answer()
            if not current["recoverable"] or current["opted_out_everywhere"]:
                return Answer()
            if current["held"]:
                return Answer(to_agent=journey_from_row(current))
            await conn.execute(
                "UPDATE journeys SET current = false WHERE journey_id = $1",
                current["journey_id"],
                timeout=deadlines.timeout(2.0),
            )
            row = await conn.fetchrow(
                "INSERT INTO journeys (lead_id, location_id, state, inquiry_event_id, generation)"
                " VALUES ($1, $2, $3, $4,"
                " (SELECT coalesce(max(generation), 0) + 1 FROM journeys WHERE lead_id = $1))"
                # No ON CONFLICT: under the lock nothing else writes this lead's journeys, so
                # a unique violation is a bug to surface (the event is redelivered), not a race.
                " RETURNING *",
                lead_id,
                location_id,
                ACTIVE,
                event_id,
                timeout=deadlines.timeout(2.0),
            )
        return Answer(journey_from_row(row))
