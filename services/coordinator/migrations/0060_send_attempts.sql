-- Exactly-once delivery: every provider call is an attempt, committed before the call,
-- so a crash leaves a row that says which messages may have reached a provider.
-- Expand-only: the release still running keeps working against this schema.

-- Who holds a claim. A worker whose lease ran out finds another token here and stops
-- before calling the provider (two workers never send the same message).
ALTER TABLE communications ADD COLUMN claim_token uuid;

CREATE TABLE send_attempts (
    attempt_id       uuid PRIMARY KEY,
    communication_id uuid NOT NULL REFERENCES communications (communication_id),
    -- 'twilio', 'sendgrid', 'highlevel'.
    provider         text NOT NULL,
    -- 'sending': committed before the call, outcome unknown until it is settled;
    -- 'in_doubt': the call ended without an answer (timeout, 5xx): it may have arrived;
    -- 'accepted': the provider took it (provider_message_id set);
    -- 'refused': the provider said no (nothing was sent);
    -- 'absent': in doubt, and the provider's own records show it never arrived.
    state            text NOT NULL,
    provider_message_id text NOT NULL DEFAULT '',
    detail           text NOT NULL DEFAULT '',
    start_time       timestamptz NOT NULL,
    finish_time      timestamptz,
    CONSTRAINT send_attempts_state CHECK (state IN ('sending', 'in_doubt', 'accepted', 'refused', 'absent'))
);
CREATE INDEX send_attempts_communication ON send_attempts (communication_id, start_time);
-- The reconciler's scan for attempts a dead worker left open.
CREATE INDEX send_attempts_open ON send_attempts (start_time) WHERE state IN ('sending', 'in_doubt');
-- At most one provider call in flight per message, whatever the workers believe.
CREATE UNIQUE INDEX send_attempts_one_sending ON send_attempts (communication_id) WHERE state = 'sending';

-- Which provider carries each channel for a location; absent: the process defaults.
CREATE TABLE delivery_settings (
    location_id    text PRIMARY KEY,
    -- 'twilio' | 'highlevel' | '' (process default).
    sms_provider   text NOT NULL DEFAULT '',
    -- 'sendgrid' | 'highlevel' | '' (process default).
    email_provider text NOT NULL DEFAULT '',
    update_time    timestamptz NOT NULL DEFAULT now()
);

-- The CRM contact a lead is, per location: HighLevel sends name a contactId.
CREATE TABLE delivery_contacts (
    lead_id             uuid PRIMARY KEY,
    location_id         text NOT NULL,
    external_contact_id text NOT NULL,
    update_time         timestamptz NOT NULL DEFAULT now()
);
