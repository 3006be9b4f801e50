"""RoutingService as its callers use it: who holds a lead."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import grpc
from leadengine.routing.v1 import routing_service_pb2 as pb

from shared.clients.base import Client
from shared.clients.errors import PeerError
from shared.clients.peers import Peers

NO_AGENT_AVAILABLE = "NO_AGENT_AVAILABLE"


@dataclass(frozen=True)
class Routed:
    assignment: pb.Assignment
    agent: pb.Agent


@dataclass(frozen=True)
class Unrouted:
    """No agent could take the lead; `why` is routing's own explanation."""

    why: str


class RoutingClient(Client):
    peer = "routing"

    def __init__(self, peers: Peers) -> None:
        self._peers = peers

    async def route_lead(
        self, lead_id: uuid.UUID | str, *, location_id: str, score: float, request_id: str
    ) -> Routed | Unrouted:
        request = pb.RouteLeadRequest(
            lead_id=str(lead_id), location_id=location_id, score=score, request_id=request_id
        )
        try:
            resp = await self._call("RouteLead", self._peers.routing.RouteLead, request, budget_s=3.0)
        except PeerError as err:
            if err.code == grpc.StatusCode.FAILED_PRECONDITION and err.reason == NO_AGENT_AVAILABLE:
                return Unrouted(err.message)
            raise
        return Routed(resp.assignment, resp.agent)

    async def get_agent(self, agent_id: uuid.UUID | str) -> pb.Agent | None:
        """The agent; None when routing does not know it."""
        try:
            resp = await self._call(
                "GetAgent",
                self._peers.routing.GetAgent,
                pb.GetAgentRequest(agent_id=str(agent_id)),
                budget_s=2.0,
            )
        except PeerError as err:
            if err.code == grpc.StatusCode.NOT_FOUND:
                return None
            raise
        return resp.agent
