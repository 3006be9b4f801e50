"""A gauge for every durable backlog (#15): besides the outboxes and the scheduler, the queues
of intelligence (bulk scoring after imports), content (drafts awaiting approval), the
coordinator (agent notifications, DND writebacks) and routing's failing outcome deliveries
are sampled by every service's backlog loop, served on /metrics, and say how old the oldest
waiting item is."""

from __future__ import annotations

import math
import socket
import uuid

import asyncpg
import httpx
from prometheus_client import start_http_server

from services.content.backlog_probes import PROBES as CONTENT
from services.intelligence.backlog_probes import PROBES as INTELLIGENCE
from shared import backlog, db
from tests.integration.test_metrics_exposed import sampled, value
from tests.journeys import started_lead
from tests.support import Mesh

SERIES = (
    ("outbox_oldest_unpublished_age_seconds", {"service": "ingest", "outbox": "outbox"}),
    ("outbox_oldest_unpublished_age_seconds", {"service": "routing", "outbox": "outcome_outbox"}),
    ("outbox_dead_letters", {"service": "ingest"}),
    ("outbox_dead_letters", {"service": "routing"}),
    ("scheduler_oldest_due_age_seconds", {"service": "coordinator"}),
    ("queue_oldest_pending_age_seconds", {"service": "intelligence", "queue": "location_scoring"}),
    ("queue_failing_items", {"service": "intelligence", "queue": "location_scoring"}),
    ("queue_oldest_pending_age_seconds", {"service": "content", "queue": "approval"}),
    ("queue_oldest_pending_age_seconds", {"service": "coordinator", "queue": "notifications"}),
    ("queue_oldest_pending_age_seconds", {"service": "coordinator", "queue": "dnd_writebacks"}),
    ("queue_failing_items", {"service": "coordinator", "queue": "dnd_writebacks"}),
    ("queue_failing_items", {"service": "routing", "queue": "outcome_outbox"}),
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_every_services_backlog_is_sampled_and_served_on_metrics(m: Mesh) -> None:
    await started_lead(m)  # every loop has run against a mesh at work
    for name, labels in SERIES:
        seen = await sampled(name, **labels)
        assert seen >= 0, (name, labels, seen)
        assert math.isfinite(seen), (name, labels, seen)
    for service in ("ingest", "intelligence", "routing", "content", "coordinator"):
        assert value("backlog_sample_failures_total", service=service) == 0, service

    # What a scrape sees: the endpoint `<SVC>_METRICS_PORT` starts (shared.server) serves them.
    port = _free_port()
    server, thread = start_http_server(port, addr="127.0.0.1")
    try:
        async with httpx.AsyncClient() as http:
            text = (await http.get(f"http://127.0.0.1:{port}/metrics", timeout=10)).text
    finally:
        server.shutdown()
        thread.join(timeout=5)
    for name, labels in SERIES:
        rendered = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
        assert f"{name}{{{rendered}}}" in text, f"{name}{labels} is not on /metrics"


async def test_the_scoring_queue_gauge_is_the_age_of_the_oldest_due_request(migrated_dsn: str) -> None:
    """A request due a minute ago and held by nobody is 60 s late; one in backoff is not late,
    but counts as failing. Inside a transaction nobody else sees, rolled back."""
    lag = ("queue_oldest_pending_age_seconds", {"service": "intelligence", "queue": "location_scoring"})
    failing = ("queue_failing_items", {"service": "intelligence", "queue": "location_scoring"})
    conn = await asyncpg.connect(migrated_dsn, server_settings={"search_path": "intelligence"})
    try:
        tx = conn.transaction()
        await tx.start()
        try:
            await conn.execute("DELETE FROM location_scoring_requests")
            await backlog.sample(db.Database(conn), INTELLIGENCE)
            assert (value(lag[0], **lag[1]), value(failing[0], **failing[1])) == (0.0, 0.0)
            await conn.execute(
                "INSERT INTO location_scoring_requests (location_id, requested, next_attempt_time)"
                " VALUES ($1, 1, now() - interval '60 seconds')",
                f"loc-{uuid.uuid4()}",
            )
            await conn.execute(
                "INSERT INTO location_scoring_requests (location_id, requested, failures, next_attempt_time)"
                " VALUES ($1, 2, 3, now() + interval '1 hour')",
                f"loc-{uuid.uuid4()}",
            )
            await backlog.sample(db.Database(conn), INTELLIGENCE)
            assert value(lag[0], **lag[1]) >= 60
            assert value(failing[0], **failing[1]) == 1
        finally:
            await tx.rollback()
    finally:
        await conn.close()


async def test_the_approval_gauge_is_the_age_of_the_oldest_waiting_draft(migrated_dsn: str) -> None:
    conn = await asyncpg.connect(migrated_dsn, server_settings={"search_path": "content"})
    try:
        tx = conn.transaction()
        await tx.start()
        try:
            await conn.execute("UPDATE messages SET status = 'ready' WHERE status = 'pending_approval'")
            await backlog.sample(db.Database(conn), CONTENT)
            assert value("queue_oldest_pending_age_seconds", service="content", queue="approval") == 0.0
            await conn.execute(
                "INSERT INTO messages (lead_id, location_id, channel, purpose, body, generator, model,"
                " status, create_time) VALUES ($1, 'loc-gauge', 'sms', 'first_touch', 'draft', 'template',"
                " 'template', 'pending_approval', now() - interval '120 seconds')",
                uuid.uuid4(),
            )
            await backlog.sample(db.Database(conn), CONTENT)
            assert value("queue_oldest_pending_age_seconds", service="content", queue="approval") >= 120
        finally:
            await tx.rollback()
    finally:
        await conn.close()
