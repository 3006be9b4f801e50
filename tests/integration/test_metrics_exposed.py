"""The operations metrics (#15): after a lead is texted and sends STOP through the in-process
mesh, the Prometheus registry shows sends, gate verdicts, opt-out latency, pool and backlog
series with plausible values, and no lead's phone, email or id in the exposition text."""

from __future__ import annotations

import asyncio
import math
import uuid
from collections.abc import Awaitable, Callable

import asyncpg
from leadengine.coordinator.v1 import coordinator_service_pb2 as pb
from prometheus_client import REGISTRY, generate_latest

from services.coordinator.delivery.lag import SCHEDULER_LAG
from shared import backlog, db
from tests.journeys import NIGHT_HOURS, comms_of, eventually, handle, inbound, started_lead
from tests.support import Mesh


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def sampled(name: str, **labels: str) -> float:
    """A gauge the backlog loop sets every few seconds: wait for its first refresh."""

    async def read() -> float | None:
        return REGISTRY.get_sample_value(name, labels)

    found = await eventually(read, lambda v: v is not None, f"{name}{labels}")
    assert isinstance(found, float)
    return found


async def test_a_texted_lead_that_stops_shows_in_the_metrics_without_personal_data(m: Mesh) -> None:
    sends = value("delivery_sends_total", channel="sms", status="simulated")
    consent_passed = value("compliance_gate_verdicts_total", gate="consent", verdict="pass")
    decided_send = value("compliance_decisions_total", action="send", gate="all")
    revoked = value("optout_latency_seconds_count", channel="sms", stage="revoked")
    confirmed = value("optout_latency_seconds_count", channel="sms", stage="confirmed")
    email = f"lee-{uuid.uuid4().hex[:12]}@example.com"

    lead = await started_lead(m, email=email)
    touch = (await comms_of(m, lead.lead_id))[-1]
    assert touch.status == pb.COMMUNICATION_STATUS_SIMULATED  # no provider credentials here
    assert value("delivery_sends_total", channel="sms", status="simulated") >= sends + 1
    assert value("compliance_gate_verdicts_total", gate="consent", verdict="pass") >= consent_passed + 1
    assert value("compliance_decisions_total", action="send", gate="all") >= decided_send + 1

    resp = await handle(m, inbound(lead, "STOP"))
    assert resp.journey.state == pb.JOURNEY_STATE_STOPPED
    assert value("optout_latency_seconds_count", channel="sms", stage="revoked") == revoked + 1
    assert value("optout_latency_seconds_count", channel="sms", stage="confirmed") == confirmed + 1
    assert value("optout_latency_seconds_sum", channel="sms", stage="revoked") >= 0.0

    # Pools are read at scrape time: the coordinator's holds a connection and never more than its max.
    size = value("db_pool_connections", service="coordinator")
    top = value("db_pool_connections_max", service="coordinator")
    assert 1 <= size <= top
    assert 0 <= value("db_pool_connections_in_use", service="coordinator") <= size
    assert value("db_pool_connections_idle", service="coordinator") <= size

    for name, labels in (
        ("outbox_oldest_unpublished_age_seconds", {"service": "ingest", "outbox": "outbox"}),
        ("outbox_oldest_unpublished_age_seconds", {"service": "routing", "outbox": "outcome_outbox"}),
        ("outbox_dead_letters", {"service": "ingest"}),
        ("scheduler_oldest_due_age_seconds", {"service": "coordinator"}),
    ):
        seen = await sampled(name, **labels)
        assert seen >= 0, (name, labels, seen)
        assert math.isfinite(seen), (name, labels, seen)
    for service in ("ingest", "routing", "coordinator"):
        assert value("backlog_sample_failures_total", service=service) == 0, service

    text = generate_latest(REGISTRY).decode()
    for personal in (lead.phone, lead.phone.lstrip("+"), email, lead.lead_id, lead.location_id):
        assert personal not in text, f"{personal!r} is in the metrics exposition"


async def test_pool_gauges_follow_a_held_connection_and_forget_a_closed_pool(migrated_dsn: str) -> None:
    service = f"pool-{uuid.uuid4().hex[:8]}"  # a pool of its own: no loop of the mesh touches it
    pool = await db.create_pool(migrated_dsn, schema="coordinator", service=service, max_size=3)
    try:
        assert value("db_pool_connections_max", service=service) == 3
        assert value("db_pool_connections_in_use", service=service) == 0
        async with pool.acquire():
            assert value("db_pool_connections_in_use", service=service) == 1
            assert (
                value("db_pool_connections_idle", service=service)
                == value("db_pool_connections", service=service) - 1
            )
        assert value("db_pool_connections_in_use", service=service) == 0
    finally:
        await pool.close()
    assert REGISTRY.get_sample_value("db_pool_connections", {"service": service}) is None


async def test_a_failed_backlog_refresh_is_counted_and_the_next_round_recovers(migrated_dsn: str) -> None:
    service = f"sample-{uuid.uuid4().hex[:8]}"
    gauge = backlog.SCHEDULER_LAG.labels(service)
    pool = await db.create_pool(migrated_dsn, schema="coordinator", service=service, max_size=2)
    try:
        broken = backlog.Probe(gauge, "SELECT 1 / 0")
        loop = asyncio.create_task(backlog.sampler(service, db.Database(pool), (broken,), 0.1)())
        try:
            await eventually(
                _async(lambda: value("backlog_sample_failures_total", service=service)),
                lambda v: v >= 2,
                "two failed refreshes",
            )
        finally:
            loop.cancel()
        assert REGISTRY.get_sample_value("scheduler_oldest_due_age_seconds", {"service": service}) == 0.0
        await backlog.sample(db.Database(pool), (backlog.Probe(gauge, "SELECT 42.5"),))
        assert value("scheduler_oldest_due_age_seconds", service=service) == 42.5
    finally:
        await pool.close()


def _async(read: Callable[[], float]) -> Callable[[], Awaitable[float]]:
    async def call() -> float:
        return read()

    return call


async def test_scheduler_lag_is_the_age_of_the_oldest_due_message(m: Mesh, migrated_dsn: str) -> None:
    """A first touch held for the morning is not late; once its time has passed a minute ago
    (moved back inside a transaction no sender sees), the lag gauge's query says >= 60 s."""
    lead = await started_lead(m, hours=NIGHT_HOURS)
    waiting = [c for c in await comms_of(m, lead.lead_id) if c.status == pb.COMMUNICATION_STATUS_SCHEDULED]
    assert waiting, "a lead texted at night waits for the morning"
    conn = await asyncpg.connect(migrated_dsn, server_settings={"search_path": "coordinator"})
    try:
        async with conn.transaction():
            await backlog.sample(db.Database(conn), (SCHEDULER_LAG,))
            before = value("scheduler_oldest_due_age_seconds", service="coordinator")
            await conn.execute(
                "UPDATE communications SET scheduled_time = now() - interval '60 seconds'"
                " WHERE communication_id = $1",
                uuid.UUID(waiting[0].communication_id),
            )
            await backlog.sample(db.Database(conn), (SCHEDULER_LAG,))
            late = value("scheduler_oldest_due_age_seconds", service="coordinator")
            assert late >= 60
            assert late >= before
            raise _Undo
    except _Undo:
        pass
    finally:
        await conn.close()


class _Undo(Exception):
    """Rolls the test's transaction back."""
