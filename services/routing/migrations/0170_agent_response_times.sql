-- How fast each agent answers a new lead (accepts or declines it, or lets the acceptance
-- deadline pass), so the success model can weigh an agent's recent median response time.
-- Expand-only: the release still running never reads these.
CREATE TABLE agent_responses (
    lead_id       uuid NOT NULL,
    agent_id      uuid NOT NULL REFERENCES agents (agent_id),
    location_id   text NOT NULL,
    -- When the lead was offered to the agent (the assignment's assign_time then).
    offer_time    timestamptz NOT NULL,
    -- accepted, declined or missed (the deadline passed: seconds is a lower bound).
    kind          text NOT NULL CHECK (kind IN ('accepted', 'declined', 'missed')),
    seconds       double precision NOT NULL CHECK (seconds >= 0),
    response_time timestamptz NOT NULL DEFAULT now(),
    -- One answer per offer: a retried accept or a second sweeper records nothing twice.
    PRIMARY KEY (lead_id, agent_id, offer_time)
);
CREATE INDEX agent_responses_recent ON agent_responses (agent_id, response_time DESC);

-- The median of the agent's recent responses, kept with the agent in the same transaction
-- as each response, so RouteLead reads it with the agent's load (NULL: no response yet).
ALTER TABLE agents
    ADD COLUMN response_median_s double precision,
    ADD COLUMN response_count    integer NOT NULL DEFAULT 0;
