"""Trigger rules per location (UpsertTriggerRule, ListTriggerRules) and firing them on a
lead's events (FireTriggers, ListTriggerFirings).

FireTriggers reads the lead and its events from ingest, judges every enabled rule of
the lead's location with the pure `trigger_rules`, and records what fires in one
transaction. The coordinator calls it while it handles a BEHAVIOR event from ingest's
outbox, with the event's id in the request_id, and acknowledges the event only after
acting on the answer: a crash in between redelivers the event and the retry returns
the same firings, so none is lost and none acted on twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from google.protobuf import struct_pb2
from leadengine.ingest.v1 import ingest_service_pb2 as ingest_pb

from services.intelligence.activity import ActivityReader
from services.intelligence.trigger_repository import Evaluation, Firing, Suppression, TriggerRepository
from services.intelligence.trigger_rules import Match, Observed, Rule, effective_rules, evaluate
from shared import tenancy, timestamps
from shared.errors import FailedPrecondition

_LABEL_KEYS = ("address", "listing_address", "street_address")
_LABEL_MAX = 80


def _label(properties: struct_pb2.Struct) -> str:
    """The listing's address when the event's properties carry one, made one short line."""
    for key in _LABEL_KEYS:
        value = properties.fields.get(key)
        if value is not None and value.WhichOneof("kind") == "string_value":
            words = " ".join("".join(c for c in value.string_value if c.isprintable()).split())
            if words:
                return words[:_LABEL_MAX]
    return ""


def observed(event: ingest_pb.LeadEvent) -> Observed | None:
    occurred = timestamps.from_proto(event.occurred_time)
    if occurred is None or event.type == ingest_pb.EVENT_TYPE_UNSPECIFIED:
        return None
    return Observed(
        event_id=event.event_id,
        type=event.type,
        occurred_time=occurred,
        listing_id=event.listing_id,
        price_usd=max(event.listing_price_usd, 0),
        listing_label=_label(event.properties),
    )


def _would_fire(held: Suppression | None, match: Match, now: datetime) -> bool:
    """TriggerRepository.record's test: outside the window, and on newer evidence."""
    return held is None or (held.suppressed_until <= now and held.evidence_time < match.evidence_time)


class TriggerFiring:
    def __init__(
        self,
        repo: TriggerRepository,
        activity: ActivityReader,
        *,
        max_lookback: timedelta,
        clock: Callable[[], datetime] = timestamps.now,
    ) -> None:
        self._repo = repo
        self._activity = activity
        # Events older than intelligence's event window are never read for anything.
        self._max_lookback = max_lookback
        self._clock = clock

    async def rules(self, location_id: str) -> list[Rule]:
        return effective_rules(location_id, await self._repo.rules(location_id))

    async def upsert(self, rule: Rule) -> Rule:
        """Store the rule as its next version; the same definition again changes nothing."""
        current = next((r for r in await self.rules(rule.location_id) if r.rule_id == rule.rule_id), None)
        if current is not None and current.same_definition(rule):
            return current
        return await self._repo.upsert_rule(rule, current.version if current is not None else 0)

    async def fire(self, lead_id: uuid.UUID, request_id: str, location: str) -> list[Firing]:
        """location: the caller's tenant claim, required (#15). The
        request_id is scoped by lead, so by location: one used for another lead is refused."""
        seen = await self._repo.evaluated(request_id)
        if seen is not None:
            return self._replayed(seen, lead_id, request_id, location)
        now = self._clock()
        try:
            lead = await self._activity.lead(lead_id, location=location)
        except FailedPrecondition as err:
            if err.reason != "LEAD_DELETED":
                raise
            # Nothing to act on for a deleted lead; recorded so a retry agrees.
            return await self._record(request_id, lead_id, "", now, [], location)
        tenancy.ensure_owned(location, lead.location_id, "lead", lead_id, "LEAD_NOT_FOUND")
        matches = await self._matches(lead_id, lead.location_id, lead.create_time, now)
        return await self._record(request_id, lead_id, lead.location_id, now, matches, location)

    @staticmethod
    def _replayed(
        seen: Evaluation, lead_id: uuid.UUID, request_id: str, location: str | None
    ) -> list[Firing]:
        if seen.lead_id != lead_id:
            # Never another lead's firings (maybe another location's) for a reused key.
            raise tenancy.key_reused(request_id, location or "")
        if seen.location_id:
            tenancy.ensure_owned(location, seen.location_id, "lead", lead_id, "LEAD_NOT_FOUND")
        return seen.firings

    async def preview(self, lead_id: uuid.UUID, location: str) -> list[tuple[Rule, Match]]:
        """What FireTriggers would record for the lead now, recording nothing (EvaluateTriggers):
        the same rules, events and suppression test. location: the caller's tenant claim."""
        now = self._clock()
        lead = await self._activity.lead(lead_id, location=location)
        tenancy.ensure_owned(location, lead.location_id, "lead", lead_id, "LEAD_NOT_FOUND")
        matches = await self._matches(lead_id, lead.location_id, lead.create_time, now)
        if not matches:
            return []
        held = await self._repo.suppressions(lead_id, [rule.rule_id for rule, _ in matches])
        return [(rule, match) for rule, match in matches if _would_fire(held.get(rule.rule_id), match, now)]

    async def _matches(
        self, lead_id: uuid.UUID, location_id: str, known_since: datetime | None, now: datetime
    ) -> list[tuple[Rule, Match]]:
        rules = [r for r in await self.rules(location_id) if not r.disabled]
        if not rules:
            return []
        lookback = min(max(r.lookback for r in rules), self._max_lookback)
        raw = await self._activity.raw_events(lead_id, location_id, now - lookback)
        events = [e for e in map(observed, raw) if e is not None]
        matches: list[tuple[Rule, Match]] = []
        for rule in rules:
            match = evaluate(rule, events, now, known_since=known_since)
            if match is not None:
                matches.append((rule, match))
        return matches

    async def _record(
        self,
        request_id: str,
        lead_id: uuid.UUID,
        location_id: str,
        now: datetime,
        matches: list[tuple[Rule, Match]],
        location: str | None,
    ) -> list[Firing]:
        recorded = await self._repo.record(request_id, lead_id, location_id, now, matches)
        if recorded is None:  # a concurrent call with the same request_id won
            seen = await self._repo.evaluated(request_id)
            return self._replayed(seen, lead_id, request_id, location) if seen is not None else []
        return recorded

    async def firings(
        self, lead_id: uuid.UUID, after: tuple[datetime, uuid.UUID] | None, limit: int
    ) -> list[Firing]:
        return await self._repo.list_firings(lead_id, after, limit)
