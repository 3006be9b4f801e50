"""The coordinator's durable backlogs besides the scheduler (delivery/lag.py): agent
notifications not yet settled, and opt-outs being written back to HighLevel as DND."""

from __future__ import annotations

from leadengine.coordinator.v1 import coordinator_service_pb2 as pb

from services.coordinator.delivery.lag import SCHEDULER_LAG
from shared import backlog

PROBES = (
    SCHEDULER_LAG,
    backlog.Probe(
        backlog.QUEUE_LAG.labels("coordinator", "notifications"),
        # The status as a literal, so the partial index notifications_pending matches.
        backlog.age_of_oldest(
            "notifications", "create_time", f"status = {pb.COMMUNICATION_STATUS_SCHEDULED}"
        ),
    ),
    backlog.Probe(
        backlog.QUEUE_LAG.labels("coordinator", "dnd_writebacks"),
        backlog.age_of_oldest(
            "dnd_writebacks",
            "next_attempt_time",
            "state IN ('retry', 'claimed') AND next_attempt_time <= now()",
        ),
    ),
    # 'failed' is where a writeback ends when it gives up: the CRM may still text this person.
    backlog.Probe(
        backlog.QUEUE_FAILING.labels("coordinator", "dnd_writebacks"),
        "SELECT count(*) FROM dnd_writebacks WHERE state IN ('retry', 'failed')",
    ),
)
