"""Server interceptor: ids into contextvars, errors into statuses, metrics out.

Every RPC passes through here, so handlers contain only domain logic:
they raise shared.errors.DomainError and never call context.abort themselves.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any, cast

import grpc
from grpc_status import rpc_status
from opentelemetry.trace import Span

from shared import deadlines, jsonlog, metrics, tracing
from shared.callers import CallerPolicy, service_of
from shared.clients.errors import PeerError
from shared.errors import DomainError, PermissionDenied
from shared.rpc import Context

log = logging.getLogger(__name__)

# Dependency failures we pass through unchanged; any other downstream error
# is a bug in how we called it, so it becomes INTERNAL.
_PASS_THROUGH = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED}

# On an aio server a handler is a coroutine function of the aio context; the
# grpc stubs type RpcMethodHandler for the sync server only.
_Behavior = Callable[[Any, Context], Awaitable[Any]]


def _caller(context: Context) -> str:
    """The common name of the client certificate; "" when the call is not mutual TLS."""
    names = list((context.auth_context() or {}).get("x509_common_name") or ())
    return names[0].decode() if names else ""


class ServiceInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, domain: str, callers: CallerPolicy | None = None) -> None:
        self.domain = domain  # ErrorInfo.domain, e.g. "ingest.leadengine"
        self.callers = callers  # None: insecure mode, no identity to check
        # Per method: the handler the server gave us and our wrapper of it. Building the
        # wrapper (closures, a new RpcMethodHandler) on every call cost more than the rest.
        self._wrapped: dict[str, tuple[Any, Any]] = {}

    def _check_caller(self, context: Context, service: str, method: str) -> None:
        if self.callers is None or not service.startswith("leadengine."):
            return  # health and reflection answer any caller our CA certified
        caller = _caller(context)
        if not self.callers.permits(service_of(service), caller, method):
            raise PermissionDenied(
                f"caller {caller or '(no certificate name)'!r} may not call {service}/{method};"
                " the allow-list follows the service call graph",
                reason="CALLER_NOT_ALLOWED",
                metadata={"caller": caller, "method": method},
            )

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any] | None]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = await continuation(details)
        if handler is None:
            return None
        cached = self._wrapped.get(details.method)
        if cached is not None and cached[0] is handler:
            return cast("grpc.RpcMethodHandler[Any, Any]", cached[1])
        wrapped_handler = self._wrap(handler, details.method)
        self._wrapped[details.method] = (handler, wrapped_handler)
        return wrapped_handler

    def _wrap(
        self, handler: grpc.RpcMethodHandler[Any, Any], full_method: str
    ) -> grpc.RpcMethodHandler[Any, Any]:
        service, _, method = full_method.lstrip("/").rpartition("/")
        if handler.unary_unary is not None:
            factory, sync_typed = grpc.unary_unary_rpc_method_handler, handler.unary_unary
        elif handler.stream_unary is not None:
            factory, sync_typed = grpc.stream_unary_rpc_method_handler, handler.stream_unary
        else:
            return handler  # server-streaming RPCs: none yet
        behavior = cast(_Behavior, sync_typed)

        attributes = {"rpc.system": "grpc", "rpc.service": service, "rpc.method": method}
        span_name = f"{service}/{method}"
        latency = metrics.LATENCY.labels(service, method)
        handled: dict[grpc.StatusCode, Any] = {}  # code -> its counter child, made once

        async def wrapped(request: Any, context: Context) -> Any:
            md = {k: v for k, v in (context.invocation_metadata() or ()) if isinstance(v, str)}
            jsonlog.request_id_var.set(md.get("x-request-id") or secrets.token_hex(8))
            if not tracing.enabled():
                tracing.continue_untraced(md)
                return await handle(request, context, None)
            with tracing.start(span_name, md, attributes=attributes) as span:
                return await handle(request, context, span)

        async def handle(request: Any, context: Context, span: Span | None) -> Any:
            deadlines.set_from_remaining(context.time_remaining())
            code = grpc.StatusCode.OK
            start = time.perf_counter()
            try:
                self._check_caller(context, service, method)
                return await behavior(request, context)
            except DomainError as err:
                code = err.code
                log.info("rpc failed", extra={"rpc": method, "code": code.name, "reason": err.reason})
                await context.abort_with_status(rpc_status.to_status(err.to_status(self.domain)))
            except (grpc.aio.AioRpcError, PeerError) as err:
                failed = (
                    err
                    if isinstance(err, PeerError)
                    else PeerError("", method, err.code(), "", err.details() or "")
                )
                code = failed.code if failed.code in _PASS_THROUGH else grpc.StatusCode.INTERNAL
                log.warning(
                    "dependency failed",
                    extra={
                        "rpc": method,
                        "peer": failed.peer,
                        "dependency_code": failed.code.name,
                        "detail": failed.message,
                    },
                )
                await context.abort(code, f"dependency failed: {failed.code.name}: {failed.message}")
            except asyncio.CancelledError:
                code = grpc.StatusCode.CANCELLED  # caller went away or deadline passed
                raise
            except grpc.aio.AbortError:
                code = context.code() or grpc.StatusCode.UNKNOWN
                raise
            except Exception:
                code = grpc.StatusCode.INTERNAL
                log.exception("unhandled error", extra={"rpc": method})
                await context.abort(code, "internal error; quote request_id " + jsonlog.request_id_var.get())
            finally:
                if span is not None:
                    span.set_attribute("rpc.grpc.status_code", code.value[0])
                counter = handled.get(code)
                if counter is None:
                    counter = handled[code] = metrics.HANDLED.labels(service, method, code.name)
                counter.inc()
                latency.observe(time.perf_counter() - start)

        return factory(
            wrapped,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
