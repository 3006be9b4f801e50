-- First-to-claim: a location may offer each lead to several agents at once; the first to
-- accept gets it (routing_settings.claim_group_size 2..10; 0 or 1: off). While offered, the
-- assignment (state 4) names no agent and holds no slot; offered_agents lists the group, and
-- stays after the claim as the record of who was offered it.
ALTER TABLE routing_settings
    ADD COLUMN claim_group_size integer NOT NULL DEFAULT 0 CHECK (claim_group_size BETWEEN 0 AND 10);

ALTER TABLE assignments ADD COLUMN offered_agents uuid[] NOT NULL DEFAULT '{}';
ALTER TABLE assignments DROP CONSTRAINT assignments_agent;
ALTER TABLE assignments ADD CONSTRAINT assignments_agent CHECK (state IN (3, 4) OR agent_id IS NOT NULL);
-- The acceptance sweep reads unclaimed offers past their deadline too.
CREATE INDEX assignments_offer_due ON assignments (accept_by_time) WHERE state = 4;

-- An offer travels to the coordinator (which notifies the agent) through the outcome outbox,
-- one row per offered agent: agent_id is that agent, offer_deadline marks the row as an offer.
ALTER TABLE outcome_outbox
    ADD COLUMN offer_deadline timestamptz,
    ADD COLUMN offer_group integer NOT NULL DEFAULT 0;
