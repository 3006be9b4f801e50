-- Outcome outbox rows the relay gave up on after ROUTING_OUTBOX_MAX_ATTEMPTS counted failures
-- (every answer but UNAVAILABLE), one per (event, subscriber) as in the outbox, moved here whole
-- with the last error. ReplayDeadLetters moves them back with a fresh count and the same
-- event_id, so a subscriber's dedup on it still holds. Expand-only.

-- Failures that count toward the limit; `attempts` still counts every try.
ALTER TABLE outcome_outbox
    ADD COLUMN failures integer NOT NULL DEFAULT 0,
    -- How many times the row came back from the dead-letter table (kept for the operator).
    ADD COLUMN replays integer NOT NULL DEFAULT 0;

CREATE TABLE outcome_dead_letters (
    -- The page key's tie-breaker: one event has a row per subscriber.
    dead_letter_id    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    event_id          uuid NOT NULL,
    subscriber        text NOT NULL,
    outbox_id         bigint NOT NULL,
    lead_id           uuid NOT NULL,
    location_id       text NOT NULL,
    agent_id          uuid,
    outcome           smallint NOT NULL,
    occurred_time     timestamptz NOT NULL,
    previous_agent_id uuid,
    move_reason       text NOT NULL DEFAULT '',
    missed_deadline   boolean NOT NULL DEFAULT false,
    offer_deadline    timestamptz,
    offer_group       integer NOT NULL DEFAULT 0,
    traceparent       text NOT NULL DEFAULT '',
    attempts          integer NOT NULL,
    last_error        text NOT NULL DEFAULT '',
    replays           integer NOT NULL DEFAULT 0,
    create_time       timestamptz NOT NULL,
    dead_letter_time  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (event_id, subscriber)
);
-- ListDeadLetters: newest first, keyset on (dead_letter_time, dead_letter_id), optionally per location.
CREATE INDEX outcome_dead_letters_time ON outcome_dead_letters (dead_letter_time DESC, dead_letter_id DESC);
CREATE INDEX outcome_dead_letters_location
    ON outcome_dead_letters (location_id, dead_letter_time DESC, dead_letter_id DESC);
