-- Recovery campaigns write re-engagement messages.
ALTER TABLE messages DROP CONSTRAINT messages_purpose_check;
ALTER TABLE messages ADD CONSTRAINT messages_purpose_check
    CHECK (purpose IN ('first_touch', 'follow_up', 'agent_notification', 're_engagement'));
