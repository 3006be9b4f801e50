"""What the coordinator forgets, and when (see shared.retention). Consent, the consent
ledger, suppressions and communications are not here: they are kept."""

from __future__ import annotations

from shared.retention import Rule

RULES = (
    Rule(
        "processed_events",
        "DELETE FROM processed_events WHERE event_id IN (SELECT event_id FROM processed_events"
        " WHERE handle_time < $1 LIMIT $2) RETURNING 1",
        keep_days=30,
        why="ingest redelivers an outbox row only while it is unpublished, hours at most",
    ),
    Rule(
        "oauth_states",
        "DELETE FROM highlevel_oauth_states WHERE nonce IN (SELECT nonce FROM highlevel_oauth_states"
        " WHERE expire_time < $1 LIMIT $2) RETURNING 1",
        keep_days=1,
        why="a state past its expiry is refused by its signed expiry; its row only repeats that",
    ),
)
