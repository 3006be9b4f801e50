"""The scheduler's lag as a gauge: how long the oldest message that is due and unsent has waited.
Held messages (no scheduled_time) and those of a paused journey are not late, so not counted."""

from __future__ import annotations

from leadengine.coordinator.v1 import coordinator_service_pb2 as pb

from shared import backlog

SCHEDULER_LAG = backlog.Probe(
    backlog.SCHEDULER_LAG.labels("coordinator"),
    backlog.age_of_oldest(
        "communications c",
        "c.scheduled_time",
        # The status as a literal, so the partial index communications_due matches every plan.
        f"c.status = {pb.COMMUNICATION_STATUS_SCHEDULED} AND c.scheduled_time <= now()"
        " AND NOT EXISTS (SELECT 1 FROM journeys j WHERE j.lead_id = c.lead_id AND j.current"
        " AND j.pause_reason <> '' AND (j.pause_end_time IS NULL OR j.pause_end_time > now()))",
    ),
)
