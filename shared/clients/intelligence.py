"""IntelligenceService as its callers use it."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from google.protobuf.timestamp_pb2 import Timestamp
from leadengine.ingest.v1 import ingest_service_pb2 as ingest_pb
from leadengine.intelligence.v1 import intelligence_service_pb2 as pb

from shared.clients.base import Client
from shared.clients.peers import Peers


class IntelligenceClient(Client):
    peer = "intelligence"

    def __init__(self, peers: Peers) -> None:
        self._peers = peers

    async def score_lead(
        self, lead_id: uuid.UUID | str, *, request_id: str, lead: ingest_pb.Lead | None = None
    ) -> pb.LeadIntelligence:
        """Scores the lead now. Pass `lead` when you hold it, so intelligence need not read it back."""
        request = pb.ScoreLeadRequest(lead_id=str(lead_id), request_id=request_id, lead=lead)
        resp = await self._call("ScoreLead", self._peers.intelligence.ScoreLead, request, budget_s=5.0)
        return resp.intelligence

    async def request_location_scoring(
        self, location_id: str, *, request_id: str, budget_s: float, lead_ids: Sequence[str] = ()
    ) -> int:
        """Has these leads of the location (none: every lead) scored soon, in the background
        (stored before the answer, so a restart loses nothing); returns how many requests are
        waiting."""
        request = pb.RequestLocationScoringRequest(
            location_id=location_id, request_id=request_id, lead_ids=lead_ids
        )
        resp = await self._call(
            "RequestLocationScoring",
            self._peers.intelligence.RequestLocationScoring,
            request,
            budget_s=budget_s,
        )
        return resp.pending_requests

    async def fire_triggers(
        self, lead_id: uuid.UUID | str, *, request_id: str, location_id: str
    ) -> list[pb.TriggerFiring]:
        """Judges the lead's location's trigger rules on its events now; what fired. A retry
        with the same request_id returns the same firings. location_id: the lead's, when known
        (a lead of another location is then NOT_FOUND)."""
        request = pb.FireTriggersRequest(lead_id=str(lead_id), request_id=request_id, location_id=location_id)
        resp = await self._call("FireTriggers", self._peers.intelligence.FireTriggers, request, budget_s=5.0)
        return list(resp.firings)

    async def scores(self, location_id: str, lead_ids: list[str]) -> dict[str, float]:
        """Stored scores by lead id (at most 1,000 ids); leads never scored are absent."""
        request = pb.BatchGetLeadIntelligenceRequest(location_id=location_id, lead_ids=lead_ids)
        resp = await self._call(
            "BatchGetLeadIntelligence",
            self._peers.intelligence.BatchGetLeadIntelligence,
            request,
            budget_s=5.0,
        )
        return {i.lead_id: i.score for i in resp.intelligence}

    async def forget_lead(self, lead_id: uuid.UUID | str, location_id: str, *, request_id: str) -> bool:
        """Removes a deleted lead's score from every listing; False when it had none."""
        request = pb.ForgetLeadRequest(lead_id=str(lead_id), location_id=location_id, request_id=request_id)
        resp = await self._call("ForgetLead", self._peers.intelligence.ForgetLead, request, budget_s=5.0)
        return resp.removed

    async def observe_outcome(
        self,
        location_id: str,
        lead_id: uuid.UUID | str,
        outcome: int,
        occurred_time: Timestamp | None,
        *,
        request_id: str,
    ) -> pb.ObserveOutcomeResponse:
        """Trains the location's conversion model on a routing Outcome; a repeated request_id
        trains once (the response says duplicate)."""
        request = pb.ObserveOutcomeRequest(
            location_id=location_id,
            lead_id=str(lead_id),
            outcome=outcome,  # type: ignore[arg-type]
            occurred_time=occurred_time,
            request_id=request_id,
        )
        return await self._call(
            "ObserveOutcome", self._peers.intelligence.ObserveOutcome, request, budget_s=5.0
        )
