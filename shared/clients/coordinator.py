"""CoordinatorService as its callers use it: ingest's outbox hands it lead events."""

from __future__ import annotations

from leadengine.coordinator.v1 import coordinator_service_pb2 as pb

from shared.clients.base import Client
from shared.clients.peers import Peers


class CoordinatorClient(Client):
    peer = "coordinator"

    def __init__(self, peers: Peers) -> None:
        self._peers = peers

    async def handle_lead_event(self, event: pb.LeadEventEnvelope, *, budget_s: float) -> pb.Journey:
        """Returns once the coordinator acknowledged the event; PeerError otherwise."""
        resp = await self._call(
            "HandleLeadEvent",
            self._peers.coordinator.HandleLeadEvent,
            pb.HandleLeadEventRequest(event=event),
            budget_s=budget_s,
        )
        return resp.journey

    async def handle_outcome(self, request: pb.HandleOutcomeRequest, *, budget_s: float) -> None:
        """Returns once the coordinator acted on the outcome (idempotent); PeerError otherwise."""
        await self._call("HandleOutcome", self._peers.coordinator.HandleOutcome, request, budget_s=budget_s)
