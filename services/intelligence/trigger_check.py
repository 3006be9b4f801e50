"""Which behavioural triggers a lead's recent events fire now (EvaluateTriggers)."""

from __future__ import annotations

import uuid
from datetime import timedelta

from services.intelligence import triggers
from services.intelligence.activity import ActivityReader
from shared import tenancy, timestamps


class TriggerCheck:
    def __init__(self, activity: ActivityReader, *, window_days: int, rules: triggers.TriggerRules) -> None:
        self._activity = activity
        self._window_days = window_days
        self._rules = rules

    async def evaluate(self, lead_id: uuid.UUID, location: str | None = None) -> list[triggers.Fired]:
        """location: the caller's tenant claim; another location's lead is NOT_FOUND."""
        lead = await self._activity.lead(lead_id)
        tenancy.ensure_owned(location, lead.location_id, "lead", lead_id, "LEAD_NOT_FOUND")
        now = timestamps.now()
        # The scoring window, not just the trigger windows: a return is judged by the
        # gap before it, so the event that opened the gap must be read too.
        events = await self._activity.events(lead_id, now - timedelta(days=self._window_days))
        return triggers.evaluate(events, now, self._rules, known_since=lead.create_time)
