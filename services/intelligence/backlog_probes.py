"""Intelligence's durable backlog as gauges: bulk scoring a location asked for after an import
(location_scoring_requests), sampled by shared.backlog's loop."""

from __future__ import annotations

from shared import backlog

_PENDING = "requested > done"

PROBES = (
    # Due and nobody holding it: a request in backoff or being run is not waiting on a worker.
    backlog.Probe(
        backlog.QUEUE_LAG.labels("intelligence", "location_scoring"),
        backlog.age_of_oldest(
            "location_scoring_requests",
            "next_attempt_time",
            f"{_PENDING} AND next_attempt_time <= now() AND (lease_until IS NULL OR lease_until <= now())",
        ),
    ),
    backlog.Probe(
        backlog.QUEUE_FAILING.labels("intelligence", "location_scoring"),
        f"SELECT count(*) FROM location_scoring_requests WHERE {_PENDING} AND failures > 0",
    ),
)
