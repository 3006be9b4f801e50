"""IntelligenceService on a gRPC server, with ListHighIntentLeads answered in bytes.

The listing builds its response as wire bytes (page_wire) and caches first pages as such, so
its handler returns `bytes`; the serialiser passes bytes through and still serialises a message
(an error path or a future handler returning one). Every other method is the generated handler.
"""

from __future__ import annotations

from typing import Any

import grpc
from leadengine.intelligence.v1 import intelligence_service_pb2_grpc as pb_grpc

BYTES_METHODS = ("ListHighIntentLeads",)


def _pass_bytes(serialize: Any) -> Any:
    def serializer(response: Any) -> bytes:
        return response if isinstance(response, bytes) else serialize(response)

    return serializer


class _Capture:
    """Stands in for the server while the generated function registers, to take its handlers."""

    def __init__(self) -> None:
        self.name = ""
        self.handlers: dict[str, Any] = {}

    def add_generic_rpc_handlers(self, handlers: Any) -> None:
        pass  # rebuilt from the same handlers in add_to_server

    def add_registered_method_handlers(self, name: str, handlers: dict[str, Any]) -> None:
        self.name, self.handlers = name, dict(handlers)


def add_to_server(servicer: Any, server: grpc.aio.Server) -> None:
    capture = _Capture()
    pb_grpc.add_IntelligenceServiceServicer_to_server(servicer, capture)  # type: ignore[arg-type]
    handlers = capture.handlers
    for method in BYTES_METHODS:
        handler = handlers[method]
        handlers[method] = handler._replace(response_serializer=_pass_bytes(handler.response_serializer))
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(capture.name, handlers),))
    server.add_registered_method_handlers(capture.name, handlers)
