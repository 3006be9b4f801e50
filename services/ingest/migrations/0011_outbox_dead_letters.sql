-- Outbox rows the relay gave up on after INGEST_OUTBOX_MAX_ATTEMPTS counted failures. Moved here
-- (same columns, same event_id) so they no longer hold back the lead's later events;
-- ReplayDeadLetters moves them back onto the outbox with a fresh attempt count.
CREATE TABLE outbox_dead_letters (
    event_id          uuid PRIMARY KEY,
    outbox_id         bigint NOT NULL,
    kind              smallint NOT NULL,
    lead_id           uuid,
    location_id       text NOT NULL,
    occurred_time     timestamptz NOT NULL,
    behavior_type     text NOT NULL DEFAULT '',
    payload           bytea NOT NULL DEFAULT ''::bytea,
    attempts          integer NOT NULL,
    last_error        text NOT NULL DEFAULT '',
    create_time       timestamptz NOT NULL,
    dead_letter_time  timestamptz NOT NULL DEFAULT now()
);
-- ListDeadLetters: newest first, keyset on (dead_letter_time, event_id), optionally per location.
CREATE INDEX outbox_dead_letters_time ON outbox_dead_letters (dead_letter_time DESC, event_id DESC);
CREATE INDEX outbox_dead_letters_location ON outbox_dead_letters (location_id, dead_letter_time DESC, event_id DESC);

-- How many times a row came back from the dead-letter table (kept for the operator).
ALTER TABLE outbox ADD COLUMN replays integer NOT NULL DEFAULT 0;
ALTER TABLE outbox_dead_letters ADD COLUMN replays integer NOT NULL DEFAULT 0;

-- Failures that count toward the attempt limit: all but UNAVAILABLE (the coordinator could not be
-- reached, which says nothing about the row). `attempts` still counts every try.
ALTER TABLE outbox ADD COLUMN failures integer NOT NULL DEFAULT 0;
