"""OpenTelemetry across the mesh: one signed webhook through the real gateway and all five real
services is one trace, from the HTTP request through ingest, its outbox and the coordinator to
intelligence, routing and content, continuing the provider's W3C traceparent."""

from __future__ import annotations

import json
import logging
import secrets
import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from leadengine.ingest.v1 import ingest_service_pb2 as ingest_pb
from leadengine.routing.v1 import routing_service_pb2 as routing_pb
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from shared import jsonlog, tracing
from tests.databases import own_database
from tests.journeys import DAY_HOURS, add_agent, eventually, fresh_phone, settled_first_touch, zone_where
from tests.support import Mesh, mesh
from tests.webhooks import Signer, compact, gateway, ghl_contact

INGEST = "leadengine.ingest.v1.IngestService"
COORDINATOR = "leadengine.coordinator.v1.CoordinatorService"


@pytest.fixture(scope="module")
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.enable(provider)
    try:
        yield exporter
    finally:
        tracing.shutdown()


@pytest.fixture(scope="module")
async def dsn(postgres_url: str) -> AsyncIterator[str]:
    """A database of the module's own: the session database may hold other modules' unpublished
    outbox rows (the webhook storm's, say), which this mesh's relay would have to deliver first."""
    async with own_database(postgres_url) as own:
        yield own


@pytest.fixture(scope="module")
async def m(dsn: str, spans: InMemorySpanExporter) -> AsyncIterator[Mesh]:
    overrides = {
        "ingest": {"outbox_poll_s": 0.1},
        "routing": {"outbox_poll_s": 0.1},
        "content": {"postal_address": "1 Main St, Austin, TX 78701"},
    }
    async with mesh(dsn, overrides=overrides) as running:
        yield running


@pytest.fixture(scope="module")
async def http(m: Mesh) -> AsyncIterator[tuple[httpx.AsyncClient, Signer]]:
    signer = Signer()
    async with gateway(signer.config(m.addr["ingest"], ingest_timeout_s=30.0)) as url:
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:
            yield client, signer


def of_trace(exporter: InMemorySpanExporter, trace_id: int) -> list[ReadableSpan]:
    return [
        s for s in exporter.get_finished_spans() if s.context is not None and s.context.trace_id == trace_id
    ]


async def test_one_webhook_is_one_trace_across_the_mesh(
    m: Mesh, http: tuple[httpx.AsyncClient, Signer], spans: InMemorySpanExporter
) -> None:
    client, signer = http
    location = f"loc-{uuid.uuid4().hex[:10]}"
    await add_agent(m, location)
    trace_id, caller_span = secrets.token_hex(16), secrets.token_hex(8)
    raw = compact(ghl_contact(location, phone=fresh_phone(), timezone=zone_where(DAY_HOURS)))
    headers = {**signer.ghl_headers(raw), "traceparent": f"00-{trace_id}-{caller_span}-01"}
    resp = await client.post("/webhooks/ghl", content=raw, headers=headers)
    assert resp.status_code == 200
    got = await m.clients.ingest.GetLeadByExternalId(
        ingest_pb.GetLeadByExternalIdRequest(location_id=location, external_contact_id=json.loads(raw)["id"]),
        timeout=5,
    )
    await settled_first_touch(m, got.lead.lead_id)

    expected = {
        "POST /webhooks/ghl",
        f"{INGEST}/RecordWebhook",
        "ingest.outbox/deliver",
        f"{COORDINATOR}/HandleLeadEvent",
        "leadengine.intelligence.v1.IntelligenceService/ScoreLead",
        "leadengine.routing.v1.RoutingService/RouteLead",
        "leadengine.content.v1.ContentService/GenerateMessage",
    }

    async def finished() -> list[ReadableSpan]:
        return of_trace(spans, int(trace_id, 16))

    # A span is exported when it ends: HandleLeadEvent ends after the first touch has settled.
    traced = await eventually(finished, lambda got: expected <= {s.name for s in got}, "the trace's spans")
    # One tree: the gateway's span continues the provider's, and every other span's parent
    # is a span of this trace.
    by_id = {s.context.span_id: s for s in traced if s.context is not None}
    [root] = [s for s in traced if s.name == "POST /webhooks/ghl"]
    assert root.parent is not None
    assert root.parent.span_id == int(caller_span, 16)
    orphans = [
        s.name for s in traced if s is not root and (s.parent is None or s.parent.span_id not in by_id)
    ]
    assert orphans == []
    # Each gRPC hop is a CLIENT span in the caller and a SERVER span in the callee.
    [handled] = [
        s for s in traced if s.name == f"{COORDINATOR}/HandleLeadEvent" and s.kind == SpanKind.SERVER
    ]
    assert handled.parent is not None
    caller = by_id[handled.parent.span_id]
    assert (caller.kind, by_id[caller.parent.span_id].name if caller.parent else "") == (
        SpanKind.CLIENT,
        "ingest.outbox/deliver",
    )
    # No personal data in span attributes.
    contact = json.loads(raw)
    attributes = " ".join(str(v) for s in traced for v in (s.attributes or {}).values())
    assert contact["phone"] not in attributes
    assert contact["email"] not in attributes


async def test_an_outcome_is_one_trace_through_routings_outbox(
    m: Mesh, http: tuple[httpx.AsyncClient, Signer], spans: InMemorySpanExporter
) -> None:
    """RecordOutcome commits its outbox rows with its trace; the relay's deliveries to the
    coordinator and intelligence, however much later, continue it (#15: one journey, one trace)."""
    client, signer = http
    location = f"loc-{uuid.uuid4().hex[:10]}"
    await add_agent(m, location)
    raw = compact(ghl_contact(location, phone=fresh_phone(), timezone=zone_where(DAY_HOURS)))
    assert (
        await client.post("/webhooks/ghl", content=raw, headers=signer.ghl_headers(raw))
    ).status_code == 200
    got = await m.clients.ingest.GetLeadByExternalId(
        ingest_pb.GetLeadByExternalIdRequest(location_id=location, external_contact_id=json.loads(raw)["id"]),
        timeout=5,
    )
    await settled_first_touch(m, got.lead.lead_id)  # routed: the lead has an agent to win with

    trace_id = secrets.token_hex(16)
    # The caller's own trace: the mesh's client channel sends it on as the call's traceparent.
    with tracing.start("caller", {"traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01"}):
        await m.clients.routing.RecordOutcome(
            routing_pb.RecordOutcomeRequest(
                lead_id=got.lead.lead_id,
                location_id=location,
                outcome=routing_pb.OUTCOME_WON,
                request_id=str(uuid.uuid4()),
            ),
            timeout=10,
        )
    expected = {
        "leadengine.routing.v1.RoutingService/RecordOutcome",
        "routing.outcome_outbox/deliver",
        f"{COORDINATOR}/HandleOutcome",
        "leadengine.intelligence.v1.IntelligenceService/ObserveOutcome",
    }

    async def finished() -> list[ReadableSpan]:
        return of_trace(spans, int(trace_id, 16))

    def complete(got: list[ReadableSpan]) -> bool:
        # A deliver span ends last (after its call and the row's marking): one per subscriber.
        delivers = [s for s in got if s.name == "routing.outcome_outbox/deliver"]
        return expected <= {s.name for s in got} and len(delivers) >= 2

    traced = await eventually(finished, complete, "the outcome's spans")
    by_id = {s.context.span_id: s for s in traced if s.context is not None}
    for name in (
        f"{COORDINATOR}/HandleOutcome",
        "leadengine.intelligence.v1.IntelligenceService/ObserveOutcome",
    ):
        [server] = [s for s in traced if s.name == name and s.kind == SpanKind.SERVER]
        assert server.parent is not None
        caller = by_id[server.parent.span_id]  # the relay's CLIENT span, under its deliver span
        assert caller.kind == SpanKind.CLIENT
        assert caller.parent is not None
        assert by_id[caller.parent.span_id].name == "routing.outcome_outbox/deliver"


def test_logs_carry_the_trace_id_of_the_current_span(spans: InMemorySpanExporter) -> None:
    formatter = jsonlog.JsonFormatter("test")
    with tracing.start("work", {}) as span:
        assert span is not None
        line = json.loads(formatter.format(logging.makeLogRecord({"msg": "hello"})))
    assert line["trace_id"] == format(span.get_span_context().trace_id, "032x")


def test_off_no_span_is_made_and_logs_keep_the_callers_trace_id() -> None:
    was = tracing._provider
    tracing.disable()
    try:
        trace_id = secrets.token_hex(16)
        with tracing.start("work", {"traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01"}) as span:
            assert span is None
            assert jsonlog.trace_id_var.get() == trace_id
            assert tracing.client_span("call") is None
            assert tracing.current_traceparent().split("-")[1] == trace_id
    finally:
        if was is not None:
            tracing.enable(was)
