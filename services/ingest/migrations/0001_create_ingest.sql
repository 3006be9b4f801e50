-- Leads, their behavioural events, idempotency keys and the transactional outbox.
-- Unqualified names land in the ingest schema.
CREATE TABLE locations (
    location_id text PRIMARY KEY,
    settings    jsonb NOT NULL DEFAULT '{}',
    create_time timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE leads (
    lead_id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    location_id         text NOT NULL REFERENCES locations (location_id),
    -- The CRM's contact id; kept after DeleteLead so a redelivered delete finds its tombstone.
    external_contact_id text,
    first_name          text NOT NULL DEFAULT '',
    last_name           text NOT NULL DEFAULT '',
    email               text NOT NULL DEFAULT '',
    phone               text NOT NULL DEFAULT '',
    timezone            text NOT NULL DEFAULT '',
    company             text NOT NULL DEFAULT '',
    city                text NOT NULL DEFAULT '',
    state               text NOT NULL DEFAULT '',
    country             text NOT NULL DEFAULT '',
    job_title           text NOT NULL DEFAULT '',
    seniority           text NOT NULL DEFAULT '',
    source              smallint NOT NULL DEFAULT 0,
    tags                text[] NOT NULL DEFAULT '{}',
    custom_fields       jsonb NOT NULL DEFAULT '{}',
    sms_consent         boolean NOT NULL DEFAULT false,
    email_consent       boolean NOT NULL DEFAULT false,
    budget_usd          bigint NOT NULL DEFAULT 0 CHECK (budget_usd >= 0),
    timeline_months     integer NOT NULL DEFAULT 0 CHECK (timeline_months >= 0),
    preapproved         boolean NOT NULL DEFAULT false,
    create_time         timestamptz NOT NULL DEFAULT now(),
    update_time         timestamptz NOT NULL DEFAULT now(),
    delete_time         timestamptz,
    CONSTRAINT leads_location_external UNIQUE (location_id, external_contact_id)
);
-- ListLeads: a location's live leads, newest update first, keyset on (update_time, lead_id).
CREATE INDEX leads_location_updated ON leads (location_id, update_time DESC, lead_id DESC)
    WHERE delete_time IS NULL;
-- ListLeads filtered by source.
CREATE INDEX leads_location_source_updated ON leads (location_id, source, update_time DESC, lead_id DESC)
    WHERE delete_time IS NULL;
-- ListLeads filtered by tag (tags @> ARRAY[tag]), bitmap-ANDed with the location index.
CREATE INDEX leads_tags ON leads USING gin (tags) WHERE delete_time IS NULL;

-- One row per idempotency key, written in the same transaction as its effect, so a
-- concurrent repeat blocks on the key and then reads the winner's answer.
CREATE TABLE request_ids (
    rpc         text NOT NULL,
    request_id  text NOT NULL,
    lead_id     uuid,
    created     boolean NOT NULL DEFAULT false,
    create_time timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (rpc, request_id)
);

CREATE TABLE lead_events (
    lead_id           uuid NOT NULL REFERENCES leads (lead_id),
    event_id          text NOT NULL,
    location_id       text NOT NULL,
    type              smallint NOT NULL,
    occurred_time     timestamptz NOT NULL,
    record_time       timestamptz NOT NULL DEFAULT now(),
    listing_id        text NOT NULL DEFAULT '',
    listing_price_usd bigint NOT NULL DEFAULT 0 CHECK (listing_price_usd >= 0),
    properties        jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (lead_id, event_id)
);
-- ListLeadEvents: most recent occurrence first, keyset on (occurred_time, event_id).
CREATE INDEX lead_events_lead_occurred ON lead_events (lead_id, occurred_time DESC, event_id DESC);

CREATE TABLE outbox (
    id                bigserial PRIMARY KEY,
    event_id          uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),
    kind              smallint NOT NULL,
    lead_id           uuid NOT NULL,
    location_id       text NOT NULL,
    occurred_time     timestamptz NOT NULL,
    behavior_type     text NOT NULL DEFAULT '',
    attempts          integer NOT NULL DEFAULT 0,
    -- Also the claim lease: a relay pushes it forward before calling out.
    next_attempt_time timestamptz NOT NULL DEFAULT now(),
    published_time    timestamptz,
    last_error        text,
    create_time       timestamptz NOT NULL DEFAULT now()
);
-- The relay's claim: unpublished rows that are due.
CREATE INDEX outbox_due ON outbox (next_attempt_time, id) WHERE published_time IS NULL;
-- Per-lead ordering check: is an earlier row of this lead still unpublished?
CREATE INDEX outbox_lead_pending ON outbox (lead_id, id) WHERE published_time IS NULL;
