-- Agent notifications go out through the providers, exactly once, like lead messages:
-- claim -> attempt 'sending' committed -> provider call -> provider id committed.
-- A pending notification has status 1 (SCHEDULED) until it settles.
ALTER TABLE notifications
    ADD COLUMN subject text NOT NULL DEFAULT '',
    ADD COLUMN provider_message_id text NOT NULL DEFAULT '',
    -- Set when the body is our fixed template, not content's: why.
    ADD COLUMN template_reason text NOT NULL DEFAULT '',
    -- Why this channel when it is not the agent's preference.
    ADD COLUMN channel_reason text NOT NULL DEFAULT '',
    ADD COLUMN claim_token uuid,
    -- While a worker holds the notification; afterwards, the earliest time it may be tried again.
    ADD COLUMN claim_until timestamptz,
    ADD COLUMN tries integer NOT NULL DEFAULT 0;
-- The sweeper's scan for pending notifications nobody holds.
CREATE INDEX notifications_pending ON notifications (claim_until) WHERE status = 1;
-- Status callbacks name the provider's message.
CREATE INDEX notifications_provider_message ON notifications (provider_message_id)
    WHERE provider_message_id <> '';
-- An inbound text from a number we text notifications to is that agent's.
CREATE INDEX notifications_sms_address ON notifications (address, create_time DESC) WHERE channel = 1;

CREATE TABLE notification_attempts (
    attempt_id      uuid PRIMARY KEY,
    notification_id uuid NOT NULL REFERENCES notifications (notification_id),
    provider        text NOT NULL,
    -- As send_attempts.state.
    state           text NOT NULL,
    provider_message_id text NOT NULL DEFAULT '',
    detail          text NOT NULL DEFAULT '',
    start_time      timestamptz NOT NULL,
    finish_time     timestamptz,
    CONSTRAINT notification_attempts_state
        CHECK (state IN ('sending', 'in_doubt', 'accepted', 'refused', 'absent'))
);
CREATE INDEX notification_attempts_notification ON notification_attempts (notification_id, start_time);
-- At most one provider call in flight per notification, whatever the workers believe.
CREATE UNIQUE INDEX notification_attempts_one_sending ON notification_attempts (notification_id)
    WHERE state = 'sending';

-- Agents who texted STOP to a notification (or whom Twilio reports as having done so):
-- no notification goes to them by text until they text START. Separate from leads'
-- consents: an agent's STOP never opts a lead out, and a lead's never silences an agent.
CREATE TABLE agent_sms_opt_outs (
    address     text PRIMARY KEY,
    agent_id    uuid,
    reason      text NOT NULL,
    create_time timestamptz NOT NULL DEFAULT now()
);
