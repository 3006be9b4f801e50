-- Journeys, consent facts and every communication. Unqualified names land in the coordinator schema.
-- Enum columns hold the proto enum numbers (CommunicationStatus, Channel, JourneyState, ...).

-- Lead events already handled: ingest's outbox delivers at least once.
CREATE TABLE processed_events (
    event_id    text PRIMARY KEY,
    lead_id     uuid NOT NULL,
    kind        smallint NOT NULL,
    handle_time timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE journeys (
    journey_id       uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    lead_id          uuid NOT NULL UNIQUE,
    location_id      text NOT NULL,
    state            smallint NOT NULL,
    stop_reason      text NOT NULL DEFAULT '',
    agent_id         uuid,
    -- Why agent_id is empty, when it is (e.g. no agent could take the lead).
    agent_reason     text NOT NULL DEFAULT '',
    score            double precision,
    first_touch_time timestamptz,
    create_time      timestamptz NOT NULL DEFAULT now(),
    update_time      timestamptz NOT NULL DEFAULT now()
);

-- Ingest owns what the lead agreed to; the coordinator owns opt-outs, which nothing but
-- the lead may lift. timezone is kept so the scheduler can recheck quiet hours alone.
CREATE TABLE consents (
    lead_id         uuid PRIMARY KEY,
    phone           text NOT NULL DEFAULT '',
    email           text NOT NULL DEFAULT '',
    timezone        text NOT NULL DEFAULT '',
    sms_consent     boolean NOT NULL DEFAULT false,
    email_consent   boolean NOT NULL DEFAULT false,
    sms_opted_out   boolean NOT NULL DEFAULT false,
    email_opted_out boolean NOT NULL DEFAULT false,
    update_time     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE communications (
    communication_id    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    lead_id             uuid NOT NULL,
    journey_id          uuid NOT NULL REFERENCES journeys (journey_id),
    channel             smallint NOT NULL,
    direction           smallint NOT NULL,
    status              smallint NOT NULL,
    status_reason       text NOT NULL DEFAULT '',
    body                text NOT NULL DEFAULT '',
    subject             text NOT NULL DEFAULT '',
    address             text NOT NULL DEFAULT '',
    message_id          text NOT NULL DEFAULT '',
    provider_message_id text NOT NULL DEFAULT '',
    scheduled_time      timestamptz,
    -- While set and in the future, a sender holds this row; after it passes, the row is due again.
    claim_until         timestamptz,
    -- Which journey step this is; one row per step, so a retried event never sends twice.
    step_key            text,
    attempts            integer NOT NULL DEFAULT 0,
    create_time         timestamptz NOT NULL DEFAULT now(),
    update_time         timestamptz NOT NULL DEFAULT now(),
    UNIQUE (lead_id, step_key)
);
-- ListCommunications pages a lead's rows newest first.
CREATE INDEX communications_lead_page ON communications (lead_id, create_time DESC, communication_id DESC);
-- The scheduler's scan for due messages (status 1 = COMMUNICATION_STATUS_SCHEDULED).
CREATE INDEX communications_due ON communications (scheduled_time) WHERE status = 1;

CREATE TABLE notifications (
    notification_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    agent_id        uuid NOT NULL,
    lead_id         uuid NOT NULL,
    channel         smallint NOT NULL,
    status          smallint NOT NULL,
    status_reason   text NOT NULL DEFAULT '',
    body            text NOT NULL DEFAULT '',
    address         text NOT NULL DEFAULT '',
    step_key        text NOT NULL,
    create_time     timestamptz NOT NULL DEFAULT now(),
    update_time     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (lead_id, step_key)
);
-- ListNotifications pages newest first, by agent or by lead.
CREATE INDEX notifications_agent_page ON notifications (agent_id, create_time DESC, notification_id DESC);
CREATE INDEX notifications_lead_page ON notifications (lead_id, create_time DESC, notification_id DESC);
