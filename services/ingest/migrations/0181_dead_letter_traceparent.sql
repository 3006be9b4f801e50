-- A dead-lettered row keeps the trace of the change that wrote it, and a replay puts it back
-- on the outbox with that trace: the delivery after the replay is still part of the journey.
ALTER TABLE outbox_dead_letters ADD COLUMN traceparent text NOT NULL DEFAULT '';
