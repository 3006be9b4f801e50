-- The W3C traceparent of the transaction that recorded the outcome ('' outside a trace): the
-- relay's calls to the coordinator and intelligence continue it, as ingest's outbox does (0150).
ALTER TABLE outcome_outbox ADD COLUMN traceparent text NOT NULL DEFAULT '';
