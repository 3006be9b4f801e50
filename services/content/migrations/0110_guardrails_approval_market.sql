-- Guardrails, suggest-mode approval, per-location settings and overrides, market facts (issue #13 B).
-- Existing rows were sent as written: they read as 'ready', with no verdicts recorded.
ALTER TABLE messages
    ADD COLUMN status text NOT NULL DEFAULT 'ready'
        CHECK (status IN ('ready', 'pending_approval', 'approved')),
    ADD COLUMN language text NOT NULL DEFAULT 'en',
    ADD COLUMN guardrail_verdicts jsonb NOT NULL DEFAULT '[]',
    ADD COLUMN revisions text[] NOT NULL DEFAULT '{}',
    ADD COLUMN approved_by_agent_id text,
    ADD COLUMN approve_time timestamptz,
    ADD COLUMN edited boolean NOT NULL DEFAULT false,
    -- What the message was written from (facts, language, postal address): an agent's
    -- edit is judged against the same input, and the audit trail shows it.
    ADD COLUMN inputs jsonb NOT NULL DEFAULT '{}';
-- The fallback writer joins the generators a message may come from.
ALTER TABLE messages DROP CONSTRAINT messages_generator_check;
ALTER TABLE messages ADD CONSTRAINT messages_generator_check
    CHECK (generator IN ('template', 'claude', 'fallback'));

CREATE TABLE location_settings (
    location_id        text PRIMARY KEY,
    approval_mode      text NOT NULL DEFAULT 'autopilot' CHECK (approval_mode IN ('autopilot', 'suggest')),
    value_propositions text[] NOT NULL DEFAULT '{}',
    link_domains       text[] NOT NULL DEFAULT '{}',
    update_time        timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE template_overrides (
    location_id text NOT NULL,
    channel     text NOT NULL CHECK (channel IN ('sms', 'email')),
    purpose     text NOT NULL,
    language    text NOT NULL,
    subject     text NOT NULL DEFAULT '',
    body        text NOT NULL,
    PRIMARY KEY (location_id, channel, purpose, language)
);

-- One row per area, the newest as_of wins; area is a ZIP or a lower-cased city.
CREATE TABLE market_facts (
    area_kind        text NOT NULL CHECK (area_kind IN ('zip', 'city')),
    area             text NOT NULL,
    median_price_usd bigint NOT NULL CHECK (median_price_usd > 0),
    days_on_market   integer NOT NULL CHECK (days_on_market >= 0),
    inventory        integer NOT NULL CHECK (inventory >= 0),
    as_of_date       date NOT NULL,
    PRIMARY KEY (area_kind, area)
);
