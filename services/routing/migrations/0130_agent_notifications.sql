-- How an agent hears of their leads (AgentNotifyChannel: 0 default, 1 SMS, 2 email, 3 none).
ALTER TABLE agents ADD COLUMN notify_channel smallint NOT NULL DEFAULT 0;

-- A lead moved between agents (SLA sweep, decline) travels through the outcome outbox to the
-- coordinator, which tells both agents; such rows carry outcome 0 (unspecified).
ALTER TABLE outcome_outbox
    ADD COLUMN previous_agent_id uuid,
    ADD COLUMN move_reason text NOT NULL DEFAULT '',
    ADD COLUMN missed_deadline boolean NOT NULL DEFAULT false;
