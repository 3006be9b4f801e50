-- The approval backlog gauge (content `approval` queue) reads the oldest draft waiting for an
-- agent every few seconds: a partial index keeps that to the few waiting rows.
CREATE INDEX messages_pending_approval ON messages (create_time) WHERE status = 'pending_approval';
