"""An agent's answer to a new assignment, and the acceptance SLA behind it.

A new open assignment waits for AcceptAssignment until its accept_by_time (the location's
accept_sla_seconds). DeclineAssignment, or the deadline passing, moves the lead to the next
candidate, never back to an agent who passed, at most max_reassignments times before the pond.
The sweep that enforces deadlines runs in every replica: each move is one guarded update of the
assignment row (still open, still this agent's, still unaccepted), so two sweepers, or a sweeper
racing an accept, move a lead at most once and never assign it twice. Deadlines live in
Postgres, so a restart loses none.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import uuid

from leadengine.ingest.v1 import ingest_service_pb2 as ingest_pb

from services.routing import matching, offers, outcome_outbox
from services.routing.assigning import Assigning, assignment_missing, profile
from services.routing.location_store import LocationStore
from services.routing.matching import LeadProfile
from services.routing.outcome_outbox import OutcomeEvent
from services.routing.repository import OFFERED, Assignment, NewAssignment, RoutingRepository
from shared import timestamps
from shared.errors import FailedPrecondition

log = logging.getLogger(__name__)
# Only the coordinator (which notifies agents) hears of moves; intelligence learns from outcomes.
REASSIGNMENT_SUBSCRIBERS = ("coordinator",)


def not_theirs(lead_id: uuid.UUID, agent_id: uuid.UUID) -> FailedPrecondition:
    return FailedPrecondition(
        f"lead {lead_id} is not assigned to agent {agent_id} awaiting acceptance",
        reason="ASSIGNMENT_NOT_HELD",
        metadata={"lead_id": str(lead_id), "agent_id": str(agent_id)},
    )


def _closed_offer(held: Assignment, agent_id: uuid.UUID) -> FailedPrecondition:
    """An accept or decline of an offer that is no longer open to this agent."""
    if held.state != OFFERED and held.agent_id is not None and held.agent_id != agent_id:
        why = f"lead {held.lead_id} was claimed first by {held.agent_name}; your offer is closed"
        reason = "LEAD_ALREADY_CLAIMED"
    else:
        why = f"the offer of lead {held.lead_id} to agent {agent_id} is closed: the lead moved on"
        reason = "OFFER_CLOSED"
    return FailedPrecondition(
        why, reason=reason, metadata={"lead_id": str(held.lead_id), "agent_id": str(agent_id)}
    )


class Claiming:
    def __init__(
        self, repo: RoutingRepository, store: LocationStore, assigning: Assigning, *, sweep_s: float
    ) -> None:
        self._repo = repo
        self._store = store
        self._assigning = assigning
        self._sweep_s = sweep_s

    async def _held(self, lead_id: uuid.UUID, location_id: str) -> Assignment:
        held = await self._repo.get_assignment(lead_id)
        if held is None or held.location_id != location_id:
            raise assignment_missing(lead_id)
        return held

    async def accept(self, lead_id: uuid.UUID, location_id: str, agent_id: uuid.UUID) -> Assignment:
        held = await self._held(lead_id, location_id)
        if agent_id in held.offered_agents and held.agent_id != agent_id:
            return await self._claim(held, agent_id)
        first = held.accept_time is None and held.agent_id == agent_id
        async with self._repo.transaction() as tx:
            if first:  # the agent's median response time changes: routes must re-read it
                await tx.bump_roster(location_id)
            if not await tx.accept(lead_id, agent_id):
                raise not_theirs(lead_id, agent_id)
            if first:
                await tx.record_response(held, "accepted")
        return await self._held(lead_id, location_id)

    async def _claim(self, held: Assignment, agent_id: uuid.UUID) -> Assignment:
        """First-to-claim (offers.py): the offered lead becomes the first claimer's, with a
        slot taken as RouteLead takes one; every later claim is refused."""
        if held.state != OFFERED:
            raise _closed_offer(held, agent_id)
        agent = await self._repo.get_agent(agent_id)
        assert agent is not None  # offered, so one of the location's agents
        me = profile(agent, self._assigning.default_capacity)
        snapshot = ingest_pb.Lead.FromString(held.lead_snapshot or b"")
        lead = LeadProfile.of(snapshot, held.score)
        features = matching.lead_features(lead) + matching.pair_features(lead, me)
        predicted = next(
            (float(c["predicted_success"]) for c in held.candidates if c["agent_id"] == str(agent_id)), 0.0
        )
        why = f"{agent.name} claimed it first of {len(held.offered_agents)} agent(s) offered it at once"
        try:
            async with self._repo.transaction() as tx:
                await tx.bump_roster(held.location_id)
                if await tx.take_slot(agent_id, me.capacity) is None:
                    raise FailedPrecondition(
                        f"agent {agent.name} cannot claim lead {held.lead_id}: unavailable, or at capacity"
                        f" ({agent.active_lead_count} of {me.capacity} open leads)",
                        reason="AGENT_AT_CAPACITY",
                        metadata={"lead_id": str(held.lead_id), "agent_id": str(agent_id)},
                    )
                if not await tx.claim(held.lead_id, agent_id, predicted, features, [why, *held.reasons]):
                    raise _Changed  # claimed first by another (or moved on): roll back our slot
                await tx.record_response(dataclasses.replace(held, agent_id=agent_id), "accepted")
                # The coordinator moves the lead's journey to the claimer (a move out of an offer).
                await outcome_outbox.publish(
                    tx.conn,
                    OutcomeEvent(
                        uuid.uuid4(),
                        held.lead_id,
                        held.location_id,
                        agent_id,
                        0,
                        timestamps.now(),
                        move_reason=why,
                    ),
                    REASSIGNMENT_SUBSCRIBERS,
                )
        except _Changed:
            raise _closed_offer(await self._held(held.lead_id, held.location_id), agent_id) from None
        return await self._held(held.lead_id, held.location_id)

    async def _decline_offer(self, held: Assignment, agent_id: uuid.UUID) -> Assignment:
        async with self._repo.transaction() as tx:
            await tx.bump_roster(held.location_id)  # the agent's median response time changes
            remaining = await tx.decline_offer(held.lead_id, agent_id)
            if remaining is None:
                raise _closed_offer(held, agent_id)
            await tx.record_response(dataclasses.replace(held, agent_id=agent_id), "declined")
        now = await self._held(held.lead_id, held.location_id)
        if not remaining:
            try:
                return await self.move(now, "every agent offered the lead declined it")
            except _Changed:
                return await self._held(held.lead_id, held.location_id)
        return now

    async def decline(self, lead_id: uuid.UUID, location_id: str, agent_id: uuid.UUID) -> Assignment:
        held = await self._held(lead_id, location_id)
        if agent_id in held.passed_agents:
            return held  # a retried decline: the lead has already moved on
        if agent_id in held.offered_agents and held.agent_id != agent_id:
            if held.state != OFFERED:
                raise _closed_offer(held, agent_id)
            return await self._decline_offer(held, agent_id)
        if held.agent_id != agent_id or not held.active or held.accept_time is not None:
            raise not_theirs(lead_id, agent_id)
        try:
            moved = await self.move(held, f"{held.agent_name} declined")
        except _Changed:
            raise not_theirs(lead_id, agent_id) from None
        assert moved is not None
        return moved

    async def move(self, held: Assignment, why: str, *, missed_deadline: bool = False) -> Assignment:
        """The lead to its next candidate, or next group of agents when the location offers
        leads to several at once (or the pond); _Changed when it changed meanwhile."""
        offer = held.state == OFFERED
        assert held.agent_id is not None or offer
        settings = await self._store.settings(held.location_id)
        snapshot = ingest_pb.Lead.FromString(held.lead_snapshot or b"")
        lead = LeadProfile.of(snapshot, held.score) if snapshot.lead_id else None
        passed = held.passed_agents | frozenset(
            held.offered_agents if offer else [a for a in (held.agent_id,) if a is not None]
        )
        exhausted = lead is None or held.reassign_count + 1 > settings.max_reassignments
        # Planned before the transaction: it reads through other pool connections, which must
        # never be awaited while this one holds the roster lock others queue behind.
        plan = (
            None
            if lead is None or exhausted
            else await self._assigning.plan(lead, held.location_id, settings, passed)
        )
        async with self._repo.transaction() as tx:
            await tx.bump_roster(held.location_id)
            if lead is None or plan is None:
                limit = f"moved {held.reassign_count} time(s), the most this location allows"
                new = NewAssignment(held.lead_id, held.location_id, None, [why, limit], 0.0, [], [])
            elif settings.first_to_claim and plan.order and not plan.fallback:
                new = offers.offered(lead, plan, settings, held.lead_snapshot)
                new.reasons.insert(0, f"offered again: {why}")
            else:
                taken = await self._assigning.take_first(tx, lead, plan, settings, held.lead_snapshot or b"")
                new = taken.new
                new.reasons.insert(0, f"reassigned: {why}")
            moved = await tx.move(held, new, why, passed=held.agent_id)
            if moved is None:
                raise _Changed  # roll back the slot taken for the next agent
            if offer:  # those who declined answered already; the rest let the deadline pass
                if missed_deadline:
                    for agent_id in held.offered_agents:
                        await tx.record_response(dataclasses.replace(held, agent_id=agent_id), "missed")
            else:
                # A decline is an answer; a missed deadline counts as at least the time it waited.
                await tx.record_response(held, "missed" if missed_deadline else "declined")
            if moved.state == OFFERED:
                await offers.publish(tx.conn, moved)
                return moved
            # In the move's own transaction: both agents hear of it once the move commits,
            # and never of a move that rolled back.
            await outcome_outbox.publish(
                tx.conn,
                OutcomeEvent(
                    uuid.uuid4(),
                    held.lead_id,
                    held.location_id,
                    moved.agent_id,
                    0,
                    timestamps.now(),
                    previous_agent_id=held.agent_id,
                    move_reason=why,
                    missed_deadline=missed_deadline,
                ),
                REASSIGNMENT_SUBSCRIBERS,
            )
        return moved

    async def sweep_once(self, limit: int = 100) -> int:
        moved = 0
        for lead_id in await self._repo.unaccepted_due(limit):
            held = await self._repo.get_assignment(lead_id)
            if held is None or held.accept_by_time is None or not (held.active or held.state == OFFERED):
                continue
            try:
                who = f"{held.agent_name} did not" if held.state != OFFERED else "nobody offered it did"
                await self.move(held, f"{who} accept in time", missed_deadline=True)
                moved += 1
            except _Changed:
                continue  # accepted, closed or moved by someone else since we read it
        if moved:
            log.info("reassigned unaccepted leads", extra={"moved": moved})
        return moved

    async def run(self) -> None:
        while True:
            while await self.sweep_once() == 100:
                pass
            await asyncio.sleep(self._sweep_s)


class _Changed(Exception):
    """The assignment changed between reading it and moving it."""
