"""One channel per peer per process, created once, and the raw stubs over them.

Services call peers through the typed clients beside this module (IngestClient…),
which own deadlines and error translation; Peers only holds the channels, so a
process can bind its own port before it knows every peer's address (tests start
the services on port 0 and connect them afterwards). Tools (CLI, tests) that
speak the wire directly use the raw stubs.

Which methods are retried on UNAVAILABLE is not decided here: the owning
service's contract says it, with `option idempotency_level` on each RPC.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf import descriptor_pb2
from google.protobuf.descriptor import ServiceDescriptor
from leadengine.content.v1 import content_service_pb2 as content_pb
from leadengine.content.v1 import content_service_pb2_grpc as content_grpc
from leadengine.coordinator.v1 import coordinator_service_pb2 as coordinator_pb
from leadengine.coordinator.v1 import coordinator_service_pb2_grpc as coordinator_grpc
from leadengine.ingest.v1 import ingest_service_pb2 as ingest_pb
from leadengine.ingest.v1 import ingest_service_pb2_grpc as ingest_grpc
from leadengine.intelligence.v1 import intelligence_service_pb2 as intelligence_pb
from leadengine.intelligence.v1 import intelligence_service_pb2_grpc as intelligence_grpc
from leadengine.routing.v1 import routing_service_pb2 as routing_pb
from leadengine.routing.v1 import routing_service_pb2_grpc as routing_grpc

from shared import channels
from shared.errors import Unavailable
from shared.transport import MutualTls


@dataclass(frozen=True)
class _Peer:
    descriptor: ServiceDescriptor
    stub: Any

    @property
    def retryable(self) -> tuple[str, ...]:
        """Methods whose contract declares them safe to repeat (reads, and writes
        idempotent on request_id): retried on UNAVAILABLE by the channel."""
        return tuple(
            m.name
            for m in self.descriptor.methods
            if m.GetOptions().idempotency_level != descriptor_pb2.MethodOptions.IDEMPOTENCY_UNKNOWN
        )


PEERS: dict[str, _Peer] = {
    "ingest": _Peer(ingest_pb.DESCRIPTOR.services_by_name["IngestService"], ingest_grpc.IngestServiceStub),
    "intelligence": _Peer(
        intelligence_pb.DESCRIPTOR.services_by_name["IntelligenceService"],
        intelligence_grpc.IntelligenceServiceStub,
    ),
    "routing": _Peer(
        routing_pb.DESCRIPTOR.services_by_name["RoutingService"], routing_grpc.RoutingServiceStub
    ),
    "content": _Peer(
        content_pb.DESCRIPTOR.services_by_name["ContentService"], content_grpc.ContentServiceStub
    ),
    "coordinator": _Peer(
        coordinator_pb.DESCRIPTOR.services_by_name["CoordinatorService"],
        coordinator_grpc.CoordinatorServiceStub,
    ),
}


class Peers:
    def __init__(
        self,
        addresses: Mapping[str, str] | None = None,
        *,
        default_timeout_s: float = 5.0,
        tls: MutualTls | None = None,
    ) -> None:
        self._timeout = default_timeout_s
        self._tls = tls
        self._channels: dict[str, grpc.aio.Channel] = {}
        self._stubs: dict[str, Any] = {}
        for name, target in (addresses or {}).items():
            self.connect(name, target)

    def connect(self, name: str, target: str) -> None:
        peer = PEERS[name]
        config = channels.service_config(
            peer.descriptor.full_name, idempotent_methods=peer.retryable, default_timeout_s=self._timeout
        )
        channel = channels.open_channel(target, config, tls=self._tls, peer=name)
        self._channels[name] = channel
        self._stubs[name] = peer.stub(channel)

    def connected(self, name: str) -> bool:
        return name in self._stubs

    def _stub(self, name: str) -> Any:
        stub = self._stubs.get(name)
        if stub is None:
            raise Unavailable(f"no address configured for the {name} service", reason="PEER_NOT_CONFIGURED")
        return stub

    @property
    def ingest(self) -> ingest_grpc.IngestServiceAsyncStub:
        return self._stub("ingest")  # type: ignore[no-any-return]

    @property
    def intelligence(self) -> intelligence_grpc.IntelligenceServiceAsyncStub:
        return self._stub("intelligence")  # type: ignore[no-any-return]

    @property
    def routing(self) -> routing_grpc.RoutingServiceAsyncStub:
        return self._stub("routing")  # type: ignore[no-any-return]

    @property
    def content(self) -> content_grpc.ContentServiceAsyncStub:
        return self._stub("content")  # type: ignore[no-any-return]

    @property
    def coordinator(self) -> coordinator_grpc.CoordinatorServiceAsyncStub:
        return self._stub("coordinator")  # type: ignore[no-any-return]

    async def close(self) -> None:
        for channel in self._channels.values():
            await channel.close()
        self._channels.clear()
        self._stubs.clear()
