-- An outcome, a deletion or an opt-out may arrive for a lead nobody holds: one in the pond, or
-- offered to several agents and not yet claimed (first-to-claim, 0191). The outcome is stored
-- with no agent, instead of failing on the NOT NULL of 0001, and the offer closes with no agent:
-- only an open assignment must name its agent.
ALTER TABLE outcomes ALTER COLUMN agent_id DROP NOT NULL;
ALTER TABLE assignments DROP CONSTRAINT assignments_agent;
ALTER TABLE assignments ADD CONSTRAINT assignments_agent CHECK (state <> 1 OR agent_id IS NOT NULL);
