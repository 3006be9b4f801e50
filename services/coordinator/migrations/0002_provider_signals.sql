-- What providers and leads tell us: inbound messages, delivery statuses, suppressions.
-- Expand-only: the release still running keeps working against this schema.

-- DELIVERY_STATUS and SUPPRESSION events may name no lead.
ALTER TABLE processed_events ALTER COLUMN lead_id DROP NOT NULL;

-- Inbound and CRM-sent messages belong to a lead, not to a journey step: a lead can
-- write before any journey exists.
ALTER TABLE communications ALTER COLUMN journey_id DROP NOT NULL;

-- One row per provider message (a redelivered webhook never records a second), and
-- the lookup for delivery status callbacks.
CREATE UNIQUE INDEX communications_provider_message ON communications (provider_message_id)
    WHERE provider_message_id <> '';
-- An opt-out blocks every waiting message to the address, whoever's lead it is
-- (revoke-all). status 1 = COMMUNICATION_STATUS_SCHEDULED.
CREATE INDEX communications_scheduled_address ON communications (channel, address) WHERE status = 1;

-- The CRM's do-not-disturb facts as ingest last reported them, and where each opt-out
-- came from: only an opt-out by keyword ('keyword') may be lifted by the lead's own
-- START; 'crm_dnd' and 'report' (a provider or the CRM said so) stay until a person acts.
ALTER TABLE consents
    ADD COLUMN sms_dnd boolean NOT NULL DEFAULT false,
    ADD COLUMN email_dnd boolean NOT NULL DEFAULT false,
    ADD COLUMN sms_opt_out_source text NOT NULL DEFAULT '',
    ADD COLUMN email_opt_out_source text NOT NULL DEFAULT '',
    -- When the lead last texted an opt-out or opt-in keyword: an older keyword event
    -- delivered late never overrides a newer one.
    ADD COLUMN sms_keyword_time timestamptz;

-- Addresses nothing automated may reach on a channel, whatever lead or location they
-- belong to. Never expires on its own (VA keeps opt-outs 10 years); a lifted row is
-- kept with lift_time for the audit trail.
CREATE TABLE suppressions (
    channel       smallint NOT NULL,
    -- E.164 phone or lower-cased email.
    address       text NOT NULL,
    source        text NOT NULL,
    reason        text NOT NULL,
    -- The lead whose message or record caused it, when known.
    lead_id       uuid,
    -- When the event behind it happened (ordering of late deliveries).
    suppress_time timestamptz NOT NULL,
    lift_time     timestamptz,
    lift_reason   text NOT NULL DEFAULT '',
    create_time   timestamptz NOT NULL DEFAULT now(),
    update_time   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (channel, address)
);
