"""OpenTelemetry traces across the mesh: the gateway's HTTP request, every gRPC hop, and the
outbox (a row keeps the traceparent of the transaction that wrote it), so one webhook and
everything it sets off is one trace.

Off unless OTEL_EXPORTER_OTLP_ENDPOINT is set (the exporter reads the other standard
OTEL_EXPORTER_OTLP_* variables itself). Off, no SDK object exists and no span is made: `start`
only parses the W3C traceparent for the logs' trace_id, as before tracing existed.

Spans carry method names and ids, never personal data (phones, emails, bodies).
"""

from __future__ import annotations

import contextlib
import re
import secrets
from collections.abc import Iterator, Mapping, MutableMapping

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Span, SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import AttributeValue

from shared import jsonlog

ENDPOINT_ENV = "OTEL_EXPORTER_OTLP_ENDPOINT"
_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$")
_PROPAGATOR = TraceContextTextMapPropagator()

_provider: TracerProvider | None = None  # None: tracing is off
_tracer: trace.Tracer | None = None


def configure(service: str, env: Mapping[str, str]) -> None:
    """Turn tracing on for this process when an OTLP endpoint is configured."""
    if not env.get(ENDPOINT_ENV, "").strip():
        return
    # Imported only when on: the exporter pulls in its own gRPC and protobuf machinery.
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

    provider = TracerProvider(resource=Resource.create({"service.name": f"leadengine-{service}"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    enable(provider)


def enable(provider: TracerProvider) -> None:
    """Trace through `provider` (tests pass one with an in-memory exporter)."""
    global _provider, _tracer
    _provider = provider
    _tracer = provider.get_tracer("leadengine")


def disable() -> None:
    global _provider, _tracer
    _provider, _tracer = None, None


def enabled() -> bool:
    return _tracer is not None


def shutdown() -> None:
    """Export what is still buffered; called as the process stops."""
    if _provider is not None:
        _provider.shutdown()
    disable()


def _hex_trace_id(span: Span) -> str:
    return format(span.get_span_context().trace_id, "032x")


@contextlib.contextmanager
def start(
    name: str,
    carrier: Mapping[str, str],
    *,
    kind: SpanKind = SpanKind.SERVER,
    attributes: Mapping[str, AttributeValue] | None = None,
) -> Iterator[Span | None]:
    """A span continuing the W3C trace in `carrier` (gRPC metadata, HTTP headers, an outbox
    row's traceparent), current for the block; the logs' trace_id follows it. Off: no span
    (None), and the trace_id is the carrier's, else a new one."""
    if _tracer is None:
        continue_untraced(carrier)
        yield None
        return
    parent = _PROPAGATOR.extract(carrier)
    with _tracer.start_as_current_span(name, context=parent, kind=kind, attributes=attributes) as span:
        jsonlog.trace_id_var.set(_hex_trace_id(span))
        yield span


def continue_untraced(carrier: Mapping[str, str]) -> None:
    """What start() does when tracing is off, without a context manager: the logs' trace_id
    is the carrier's, else a new one."""
    match = _TRACEPARENT.match(carrier.get("traceparent", ""))
    jsonlog.trace_id_var.set(match.group(1) if match else secrets.token_hex(16))


def client_span(name: str, attributes: Mapping[str, AttributeValue] | None = None) -> Span | None:
    """A CLIENT span, child of the current one, for an outbound call; the caller ends it
    when the call completes. None when tracing is off."""
    if _tracer is None:
        return None
    return _tracer.start_span(name, kind=SpanKind.CLIENT, attributes=attributes)


def inject(carrier: MutableMapping[str, str], span: Span | None = None) -> None:
    """Write the W3C traceparent of `span` (else the current span) into carrier."""
    ctx = trace.set_span_in_context(span) if span is not None else otel_context.get_current()
    _PROPAGATOR.inject(carrier, context=ctx)


def current_traceparent() -> str:
    """The traceparent to store with work done later (an outbox row): the current span's when
    tracing is on, else one carrying the logs' trace id; "" outside any trace."""
    if _tracer is not None:
        carrier: dict[str, str] = {}
        inject(carrier)
        return carrier.get("traceparent", "")
    trace_id = jsonlog.trace_id_var.get()
    return f"00-{trace_id}-{secrets.token_hex(8)}-01" if trace_id else ""
