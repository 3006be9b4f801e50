"""What ingest forgets, and when (see shared.retention)."""

from __future__ import annotations

from shared.retention import Rule

RULES = (
    Rule(
        "outbox",
        "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox"
        " WHERE published_time < $1 ORDER BY published_time LIMIT $2) RETURNING 1",
        keep_days=7,
        why="delivered rows are only evidence for debugging; the coordinator keeps what they caused",
    ),
    Rule(
        "inbox_payload",
        "UPDATE inbox SET payload = ''::bytea WHERE (provider, provider_event_id) IN"
        " (SELECT provider, provider_event_id FROM inbox"
        " WHERE record_time < $1 AND payload <> ''::bytea LIMIT $2) RETURNING 1",
        keep_days=30,
        why="raw provider bodies hold personal data; the row (dedup key, outcome) stays",
    ),
    Rule(
        "inbox",
        "DELETE FROM inbox WHERE (provider, provider_event_id) IN"
        " (SELECT provider, provider_event_id FROM inbox WHERE record_time < $1 LIMIT $2) RETURNING 1",
        keep_days=90,
        why="the dedup key must outlive every provider's redelivery (HighLevel: about 70 minutes)",
    ),
    Rule(
        "request_ids",
        "DELETE FROM request_ids WHERE (rpc, request_id) IN"
        " (SELECT rpc, request_id FROM request_ids WHERE create_time < $1 LIMIT $2) RETURNING 1",
        keep_days=30,
        why="a request_id replayed later than this is a new request",
    ),
)
