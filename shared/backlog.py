"""Backlog gauges (outbox lag, scheduler lag, dead letters, other queues), refreshed by a background loop.

Each is one cheap query on the service's own pool every few seconds, so a scrape never waits
on the database and never runs a query on the event loop's behalf."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from prometheus_client import Counter, Gauge

from shared.db import Database

log = logging.getLogger(__name__)

OUTBOX_LAG = Gauge(
    "outbox_oldest_unpublished_age_seconds",
    "Age of the oldest outbox row not yet delivered (0 when none waits).",
    ["service", "outbox"],
)
DEAD_LETTERS = Gauge("outbox_dead_letters", "Outbox rows parked in the dead-letter table.", ["service"])
SCHEDULER_LAG = Gauge(
    "scheduler_oldest_due_age_seconds",
    "How long the oldest due, unsent message has been due (0 when none is).",
    ["service"],
)
# The other durable queues (#15: a gauge for every backlog), one series per (service, queue):
# intelligence `location_scoring`, content `approval`, coordinator `notifications` and
# `dnd_writebacks`, routing `outcome_outbox`.
QUEUE_LAG = Gauge(
    "queue_oldest_pending_age_seconds",
    "How long the oldest item a queue has not finished has been waiting (0 when none is).",
    ["service", "queue"],
)
QUEUE_FAILING = Gauge(
    "queue_failing_items",
    "Unfinished items whose last attempt failed: being retried, or (dnd_writebacks) given up on.",
    ["service", "queue"],
)
SAMPLE_FAILURES = Counter(
    "backlog_sample_failures_total",
    "Backlog gauge refreshes that failed; the gauge keeps its last value.",
    ["service"],
)


@dataclass(frozen=True)
class Probe:
    """A labelled gauge and the query (one row, one number) that sets it."""

    gauge: Gauge
    sql: str
    args: tuple[object, ...] = ()


def age_of_oldest(table: str, column: str, where: str) -> str:
    return f"SELECT coalesce(extract(epoch FROM now() - min({column})), 0)::float8 FROM {table} WHERE {where}"


async def sample(db: Database, probes: Sequence[Probe]) -> None:
    async with db.connection() as conn:
        for probe in probes:
            value = await conn.fetchval(probe.sql, *probe.args, timeout=5.0)
            probe.gauge.set(max(0.0, float(value or 0)))


def sampler(
    service: str, db: Database, probes: Sequence[Probe], interval_s: float
) -> Callable[[], Awaitable[None]]:
    """A background loop for ServiceApp.background: refresh now, then every interval_s."""

    async def run() -> None:
        while True:
            try:
                await sample(db, probes)
            except asyncio.CancelledError:
                raise
            except Exception:
                # A stale gauge is said out loud (log + counter); the next round tries again.
                SAMPLE_FAILURES.labels(service).inc()
                log.warning("backlog gauges not refreshed", exc_info=True, extra={"service": service})
            await asyncio.sleep(interval_s)

    return run
