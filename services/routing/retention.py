"""What routing forgets, and when (see shared.retention)."""

from __future__ import annotations

from shared.retention import Rule

RULES = (
    Rule(
        "outcome_outbox",
        "DELETE FROM outcome_outbox WHERE id IN (SELECT id FROM outcome_outbox"
        " WHERE published_time < $1 ORDER BY published_time LIMIT $2) RETURNING 1",
        keep_days=7,
        why="delivered rows are only evidence for debugging; the assignment keeps the outcome itself",
    ),
)
