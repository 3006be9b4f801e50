"""The compliance gates as production runs them: resolve the recipient, read the
location's caps and the send history, evaluate (compliance.evaluation, the same code
SimulateCadence runs) and store the record that proves the decision."""

from __future__ import annotations

import uuid
from datetime import datetime

from leadengine.common.v1 import common_pb2

from services.coordinator.compliance import evaluation, gates
from services.coordinator.compliance.evaluation import FAIL, Caps, Evaluation, History, Limits, Verdict
from services.coordinator.compliance.gates import Action, ContactFacts, Gate
from services.coordinator.compliance.recipient import of as recipient_of
from services.coordinator.compliance.records import ComplianceRecordRepository
from services.coordinator.compliance.rules import TimeRule


class ComplianceChecks:
    def __init__(self, records: ComplianceRecordRepository, *, caps: Caps, window: TimeRule | None) -> None:
        self._records = records
        self._caps = caps
        self._window = window

    async def limits(self, location_id: str) -> Limits:
        return Limits(await self._records.caps(location_id, self._caps), self._window)

    async def check(
        self,
        *,
        lead_id: uuid.UUID,
        location_id: str,
        step_key: str,
        channel: common_pb2.Channel.ValueType,
        address: str,
        facts: ContactFacts,
        now: datetime,
    ) -> Evaluation:
        """Every gate for this message at `now`, recorded; the caller acts on `.decision`."""
        recipient = recipient_of(facts)

        def run(history: History, caps: Caps) -> Evaluation:
            limits = Limits(caps, self._window)
            return evaluation.evaluate(channel, address, facts, recipient, now, limits, history)

        return await self._records.decide(
            lead_id=lead_id,
            step_key=step_key,
            location_id=location_id,
            channel=channel,
            address=address,
            now=now,
            evaluate=run,
            default_caps=self._caps,
        )

    async def refused(
        self,
        *,
        lead_id: uuid.UUID,
        location_id: str,
        step_key: str,
        channel: common_pb2.Channel.ValueType,
        address: str,
        gate: str,
        reason: str,
        now: datetime,
    ) -> None:
        """Record a first touch refused before the gates ran (no channel to use, content
        refused to write it), so that it too has a record saying why."""

        def run(_: History, __: Caps) -> Evaluation:
            return Evaluation(Gate(Action.BLOCK, reason), (Verdict(gate, FAIL, reason),), None)

        await self._records.decide(
            lead_id=lead_id,
            step_key=step_key,
            location_id=location_id,
            channel=channel,
            address=address,
            now=now,
            evaluate=run,
            default_caps=self._caps,
        )

    async def hold(self, communication_id: uuid.UUID, reason: str) -> None:
        await self._records.hold(communication_id, reason)

    async def release_held(self, lead_id: uuid.UUID, facts: ContactFacts, now: datetime) -> int:
        """Messages held because the zone was unknown are due again once it is known."""
        if not recipient_of(facts).known:
            return 0
        return await self._records.release_held(lead_id, gates.ZONE_UNKNOWN, now)
