-- Messages written for behaviour-timed touches (purpose 'trigger'). The list names every
-- purpose the content issue plans, so a sibling migration widening it for another purpose
-- does not narrow it again.
ALTER TABLE messages DROP CONSTRAINT messages_purpose_check;
ALTER TABLE messages ADD CONSTRAINT messages_purpose_check CHECK (purpose IN (
    'first_touch', 'follow_up', 'agent_notification', 'trigger', 're_engagement', 'recovery',
    'reply_to_inbound', 'appointment_reminder'
));
