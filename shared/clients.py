"""gRPC clients of the mesh: one channel per peer per process, created once.

Servicers hold a Peers and ask it for a stub at call time, so a process can
bind its own port before it knows every peer's address (tests start the
services on port 0 and connect them afterwards).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import grpc
from leadengine.content.v1 import content_service_pb2_grpc as content_grpc
from leadengine.coordinator.v1 import coordinator_service_pb2_grpc as coordinator_grpc
from leadengine.ingest.v1 import ingest_service_pb2_grpc as ingest_grpc
from leadengine.intelligence.v1 import intelligence_service_pb2_grpc as intelligence_grpc
from leadengine.routing.v1 import routing_service_pb2_grpc as routing_grpc

from shared import channels
from shared.errors import Unavailable


@dataclass(frozen=True)
class _Peer:
    full_name: str
    stub: Any
    # Retried on UNAVAILABLE: reads, and writes that are idempotent on request_id
    # (every internal caller sets one).
    retryable: tuple[str, ...]


PEERS: dict[str, _Peer] = {
    "ingest": _Peer(
        "leadengine.ingest.v1.IngestService",
        ingest_grpc.IngestServiceStub,
        (
            "UpsertLead",
            "GetLead",
            "GetLeadByExternalId",
            "ListLeads",
            "DeleteLead",
            "RecordEvent",
            "ListLeadEvents",
            "RecordWebhook",
        ),
    ),
    "intelligence": _Peer(
        "leadengine.intelligence.v1.IntelligenceService",
        intelligence_grpc.IntelligenceServiceStub,
        ("ScoreLead", "GetLeadIntelligence", "ListHighIntentLeads", "EvaluateTriggers"),
    ),
    "routing": _Peer(
        "leadengine.routing.v1.RoutingService",
        routing_grpc.RoutingServiceStub,
        (
            "UpsertAgent",
            "GetAgent",
            "ListAgents",
            "SetAgentAvailability",
            "RouteLead",
            "GetAssignment",
            "RecordOutcome",
        ),
    ),
    "content": _Peer(
        "leadengine.content.v1.ContentService",
        content_grpc.ContentServiceStub,
        ("GenerateMessage", "GetConversation"),
    ),
    "coordinator": _Peer(
        "leadengine.coordinator.v1.CoordinatorService",
        coordinator_grpc.CoordinatorServiceStub,
        ("HandleLeadEvent", "GetJourney", "ListCommunications", "GetConsent", "ListNotifications"),
    ),
}


class Peers:
    def __init__(self, addresses: Mapping[str, str] | None = None, *, default_timeout_s: float = 5.0) -> None:
        self._timeout = default_timeout_s
        self._channels: dict[str, grpc.aio.Channel] = {}
        self._stubs: dict[str, Any] = {}
        for name, target in (addresses or {}).items():
            self.connect(name, target)

    def connect(self, name: str, target: str) -> None:
        peer = PEERS[name]
        config = channels.service_config(
            peer.full_name, idempotent_methods=peer.retryable, default_timeout_s=self._timeout
        )
        channel = channels.open_channel(target, config)
        self._channels[name] = channel
        self._stubs[name] = peer.stub(channel)

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
