-- The W3C traceparent of the transaction that wrote the row ('' outside a trace): the relay's
-- call to the coordinator continues that trace, so one lead's journey is one trace.
ALTER TABLE outbox ADD COLUMN traceparent text NOT NULL DEFAULT '';
