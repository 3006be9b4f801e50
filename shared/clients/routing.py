"""RoutingService as its callers use it: who holds a lead, and what ends an assignment."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

import grpc
from leadengine.ingest.v1 import ingest_service_pb2 as ingest_pb
from leadengine.routing.v1 import routing_service_pb2 as pb

from shared.clients.base import Client
from shared.clients.errors import PeerError
from shared.clients.peers import Peers

NO_AGENT_AVAILABLE = "NO_AGENT_AVAILABLE"
ASSIGNMENT_NOT_FOUND = "ASSIGNMENT_NOT_FOUND"
OCCURRED_TIME_OUT_OF_RANGE = "OCCURRED_TIME_OUT_OF_RANGE"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Routed:
    assignment: pb.Assignment
    agent: pb.Agent


@dataclass(frozen=True)
class Unrouted:
    """No agent could take the lead (it waits in the pond); `why` is routing's own explanation."""

    why: str


class RoutingClient(Client):
    peer = "routing"

    def __init__(self, peers: Peers) -> None:
        self._peers = peers

    async def route_lead(
        self,
        lead_id: uuid.UUID | str,
        *,
        location_id: str,
        score: float,
        request_id: str,
        lead: ingest_pb.Lead | None = None,
    ) -> Routed | Unrouted:
        """`lead`, when the caller holds it, spares routing a GetLead."""
        request = pb.RouteLeadRequest(
            lead_id=str(lead_id), location_id=location_id, score=score, request_id=request_id, lead=lead
        )
        try:
            resp = await self._call("RouteLead", self._peers.routing.RouteLead, request, budget_s=3.0)
        except PeerError as err:
            if err.code == grpc.StatusCode.FAILED_PRECONDITION and err.reason == NO_AGENT_AVAILABLE:
                return Unrouted(err.message)
            raise
        if resp.assignment.state in (pb.ASSIGNMENT_STATE_POND, pb.ASSIGNMENT_STATE_OFFERED):
            # Offered to several agents at once: nobody holds it until one claims it, and the
            # claim reaches the journey as a move (HandleOutcome with a reassignment).
            return Unrouted("; ".join(resp.assignment.reasons))
        return Routed(resp.assignment, resp.agent)

    async def get_agent(self, agent_id: uuid.UUID | str, *, location_id: str) -> pb.Agent | None:
        """The agent; None when routing does not know it in that location."""
        try:
            resp = await self._call(
                "GetAgent",
                self._peers.routing.GetAgent,
                pb.GetAgentRequest(agent_id=str(agent_id), location_id=location_id),
                budget_s=2.0,
            )
        except PeerError as err:
            if err.code == grpc.StatusCode.NOT_FOUND:
                return None
            raise
        return resp.agent

    async def _about_assignment(self, name: str, request: object) -> pb.Assignment | None:
        """None when the lead has no assignment (never routed): nothing to end or touch."""
        try:
            resp = await self._call(name, getattr(self._peers.routing, name), request, budget_s=2.0)
        except PeerError as err:
            if err.code == grpc.StatusCode.NOT_FOUND and err.reason == ASSIGNMENT_NOT_FOUND:
                return None
            raise
        assignment: pb.Assignment = resp.assignment
        return assignment

    async def get_assignment(self, lead_id: uuid.UUID, *, location_id: str) -> pb.Assignment | None:
        """The lead's assignment as it stands now (after any SLA move); None if never routed."""
        return await self._about_assignment(
            "GetAssignment", pb.GetAssignmentRequest(lead_id=str(lead_id), location_id=location_id)
        )

    async def release_assignment(
        self, lead_id: uuid.UUID, *, location_id: str, reason: pb.ReleaseReason.ValueType, request_id: str
    ) -> pb.Assignment | None:
        return await self._about_assignment(
            "ReleaseAssignment",
            pb.ReleaseAssignmentRequest(
                lead_id=str(lead_id), location_id=location_id, reason=reason, request_id=request_id
            ),
        )

    async def record_lead_activity(
        self, lead_id: uuid.UUID, *, location_id: str, request: pb.RecordLeadActivityRequest
    ) -> pb.Assignment | None:
        request.lead_id, request.location_id = str(lead_id), location_id
        return await self._about_assignment("RecordLeadActivity", request)

    async def record_outcome(self, request: pb.RecordOutcomeRequest) -> pb.Assignment | None:
        """None when the lead was never routed, or when the outcome is older than routing accepts
        (90 days; a late CRM replay): logged, since retrying would never succeed."""
        try:
            return await self._about_assignment("RecordOutcome", request)
        except PeerError as err:
            if err.code == grpc.StatusCode.INVALID_ARGUMENT and err.reason == OCCURRED_TIME_OUT_OF_RANGE:
                log.warning("outcome too old for routing; not recorded", extra={"lead_id": request.lead_id})
                return None
            raise

    async def list_dead_letters(
        self, *, location_id: str = "", subscriber: str = "", page_size: int = 0, page_token: str = ""
    ) -> tuple[list[pb.DeadLetter], str]:
        """One page of the outcome rows the relay gave up on, newest first, and the next token."""
        page = await self._call(
            "ListDeadLetters",
            self._peers.routing.ListDeadLetters,
            pb.ListDeadLettersRequest(
                location_id=location_id, subscriber=subscriber, page_size=page_size, page_token=page_token
            ),
            budget_s=5.0,
        )
        return list(page.dead_letters), page.next_page_token

    async def replay_dead_letters(
        self,
        event_ids: list[str] | None = None,
        *,
        location_id: str = "",
        subscriber: str = "",
        request_id: str = "",
    ) -> int:
        """Puts the named events' dead letters (None: all, of location_id and subscriber when set)
        back on the outcome outbox; returns how many rows moved."""
        request = pb.ReplayDeadLettersRequest(
            event_ids=event_ids or [],
            all=event_ids is None,
            location_id=location_id,
            subscriber=subscriber,
            request_id=request_id,
        )
        resp = await self._call(
            "ReplayDeadLetters", self._peers.routing.ReplayDeadLetters, request, budget_s=30.0
        )
        return resp.replayed_count
