-- Recovery campaigns write re-engagement messages. The list names every purpose the
-- content issue plans (the same list as the trigger purpose's migration), so whichever of
-- the two runs last never narrows it.
ALTER TABLE messages DROP CONSTRAINT messages_purpose_check;
ALTER TABLE messages ADD CONSTRAINT messages_purpose_check CHECK (purpose IN (
    'first_touch', 'follow_up', 'agent_notification', 'trigger', 're_engagement', 'recovery',
    'reply_to_inbound', 'appointment_reminder'
));
