"""What intelligence forgets, and when (see shared.retention).

A FireTriggers evaluation row only lets a retry of the same request_id return what the first
call recorded. Suppression windows live in trigger_suppressions and duplicate evidence is refused
there (a rule fires again only on newer evidence), so neither depends on old evaluations. An
evaluation that fired stays with its firings: they are the lead's trigger history
(ListTriggerFirings), reference it, and a late redelivery of its event must get them back."""

from __future__ import annotations

from shared.retention import Rule

RULES = (
    Rule(
        "trigger_evaluations",
        "DELETE FROM trigger_evaluations WHERE request_id IN (SELECT e.request_id"
        " FROM trigger_evaluations e WHERE e.evaluate_time < $1"
        " AND NOT EXISTS (SELECT 1 FROM trigger_firings f WHERE f.request_id = e.request_id)"
        " ORDER BY e.evaluate_time LIMIT $2) RETURNING 1",
        keep_days=30,
        why="the coordinator asks again only for an event it has not recorded as handled, and it"
        " keeps that record 30 days (COORDINATOR_RETAIN_PROCESSED_EVENTS_DAYS); past it the event"
        " is handled anew, and re-evaluating it cannot fire a rule twice on the same evidence",
    ),
)
