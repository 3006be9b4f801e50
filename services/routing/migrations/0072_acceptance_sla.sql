-- Acceptance SLA: an open assignment waits for its agent's accept until accept_by_time, then
-- moves to the next candidate (never back to an agent in passed_agents).
ALTER TABLE assignments
    ADD COLUMN accept_by_time timestamptz,
    ADD COLUMN accept_time    timestamptz,
    ADD COLUMN reassign_count integer NOT NULL DEFAULT 0,
    ADD COLUMN passed_agents  uuid[] NOT NULL DEFAULT '{}',
    -- What reassignment needs to route the lead again without asking ingest.
    ADD COLUMN lead_snapshot  bytea,
    ADD COLUMN score          double precision NOT NULL DEFAULT 0;
CREATE INDEX assignments_accept_due ON assignments (accept_by_time) WHERE active AND accept_by_time IS NOT NULL;

ALTER TABLE routing_settings
    ADD COLUMN accept_sla_seconds integer NOT NULL DEFAULT 300 CHECK (accept_sla_seconds > 0),
    ADD COLUMN max_reassignments  integer NOT NULL DEFAULT 3 CHECK (max_reassignments > 0);
