-- Provider webhooks: the raw inbox, CRM do-not-disturb facts on leads, and outbox rows that carry
-- message, delivery and suppression facts (some of which name no lead).

ALTER TABLE leads
    ADD COLUMN sms_dnd   boolean NOT NULL DEFAULT false,
    ADD COLUMN email_dnd boolean NOT NULL DEFAULT false;

-- Every verified provider event, stored raw before anything is derived from it. The primary key
-- is the provider's own event id: a redelivery conflicts here and has no second effect.
CREATE TABLE inbox (
    provider          smallint NOT NULL,
    provider_event_id text NOT NULL,
    event_type        text NOT NULL DEFAULT '',
    -- The tenant, once known ('' when the event named none we could resolve).
    location_id       text NOT NULL DEFAULT '',
    payload           bytea NOT NULL,
    receive_time      timestamptz NOT NULL,
    record_time       timestamptz NOT NULL DEFAULT now(),
    -- What normalising it did, e.g. lead_created, stored_only, unmatched; and why, when nothing.
    outcome           text NOT NULL,
    detail            text NOT NULL DEFAULT '',
    lead_id           uuid,
    PRIMARY KEY (provider, provider_event_id)
);
-- DeleteLead erases the raw payloads that were matched to the lead.
CREATE INDEX inbox_lead ON inbox (lead_id) WHERE lead_id IS NOT NULL;

-- The serialized LeadEventEnvelope fields beyond the row's own columns (message, delivery,
-- suppression); empty for lead changes and behaviour events.
ALTER TABLE outbox
    ADD COLUMN payload bytea NOT NULL DEFAULT ''::bytea,
    -- Delivery reports and suppressions can arrive for an address no lead has yet.
    ALTER COLUMN lead_id DROP NOT NULL;

-- Twilio inbound SMS: which location owns the number the message was sent to.
CREATE INDEX locations_sms_numbers ON locations USING gin ((settings -> 'sms_numbers'));
-- Twilio inbound SMS without a configured number: the live leads with the sender's phone.
CREATE INDEX leads_phone_live ON leads (phone, update_time DESC) WHERE delete_time IS NULL AND phone <> '';
-- SendGrid events without a lead_id custom arg: the location's live leads with that email.
CREATE INDEX leads_location_email_live ON leads (location_id, email, update_time DESC)
    WHERE delete_time IS NULL AND email <> '';
