-- Every message content wrote, kept as the audit trail Fair Housing asks for
-- (what was written, by which template or model). Unqualified names land in the content schema.
CREATE TABLE messages (
    message_id      uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    lead_id         uuid NOT NULL,
    location_id     text NOT NULL,
    channel         text NOT NULL CHECK (channel IN ('sms', 'email')),
    purpose         text NOT NULL CHECK (purpose IN ('first_touch', 'follow_up', 'agent_notification')),
    subject         text NOT NULL DEFAULT '',
    body            text NOT NULL,
    generator       text NOT NULL CHECK (generator IN ('template', 'claude')),
    model           text NOT NULL,
    input_tokens    integer NOT NULL DEFAULT 0 CHECK (input_tokens >= 0),
    output_tokens   integer NOT NULL DEFAULT 0 CHECK (output_tokens >= 0),
    cost_micros_usd bigint NOT NULL DEFAULT 0 CHECK (cost_micros_usd >= 0),
    request_id      text UNIQUE,
    create_time     timestamptz NOT NULL DEFAULT now()
);
-- GetConversation: a lead's messages oldest first, keyset on (create_time, message_id).
CREATE INDEX messages_lead_time ON messages (lead_id, create_time, message_id);
