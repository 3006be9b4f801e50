-- Behavioural trigger rules per location, each evaluation of a lead, each firing with the
-- events that caused it, and the per-rule per-lead suppression window.
-- Expand-only: the release still running keeps working against this schema.

-- A location's own rules; defaults live in code until a location overrides one (same rule_id).
CREATE TABLE trigger_rules (
    location_id          text NOT NULL,
    rule_id              text NOT NULL,
    name                 text NOT NULL,
    disabled             boolean NOT NULL,
    -- intelligence.v1.TriggerCondition number.
    condition            smallint NOT NULL,
    -- ingest.v1.EventType numbers (EVENT_COUNT only).
    event_types          smallint[] NOT NULL DEFAULT '{}',
    listing_required     boolean NOT NULL DEFAULT false,
    min_count            integer NOT NULL,
    window_s             bigint NOT NULL,
    inactivity_s         bigint NOT NULL DEFAULT 0,
    price_change_percent double precision NOT NULL DEFAULT 0,
    baseline_s           bigint NOT NULL DEFAULT 0,
    suppression_s        bigint NOT NULL,
    hot                  boolean NOT NULL,
    version              integer NOT NULL,
    update_time          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (location_id, rule_id)
);

-- One row per FireTriggers request_id, even when nothing fired: a retry returns what the
-- first call recorded instead of evaluating again.
CREATE TABLE trigger_evaluations (
    request_id    text PRIMARY KEY,
    lead_id       uuid NOT NULL,
    evaluate_time timestamptz NOT NULL
);

CREATE TABLE trigger_firings (
    firing_id     uuid PRIMARY KEY,
    request_id    text NOT NULL REFERENCES trigger_evaluations (request_id),
    lead_id       uuid NOT NULL,
    location_id   text NOT NULL,
    rule_id       text NOT NULL,
    rule_version  integer NOT NULL,
    condition     smallint NOT NULL,
    description   text NOT NULL,
    listing_id    text NOT NULL DEFAULT '',
    listing_label text NOT NULL DEFAULT '',
    hot           boolean NOT NULL,
    -- The ingest events that caused it.
    event_ids     text[] NOT NULL,
    -- The newest of them.
    evidence_time timestamptz NOT NULL,
    fire_time     timestamptz NOT NULL,
    suppression_s bigint NOT NULL
);
CREATE INDEX trigger_firings_request ON trigger_firings (request_id);
-- ListTriggerFirings pages a lead's firings newest first.
CREATE INDEX trigger_firings_lead_page ON trigger_firings (lead_id, fire_time DESC, firing_id DESC);

-- The last firing per (lead, rule): the next may come only after suppressed_until and
-- only on evidence newer than evidence_time. The conditional upsert on this row is what
-- makes two concurrent evaluations fire a rule once.
CREATE TABLE trigger_suppressions (
    lead_id          uuid NOT NULL,
    rule_id          text NOT NULL,
    suppressed_until timestamptz NOT NULL,
    evidence_time    timestamptz NOT NULL,
    firing_id        uuid NOT NULL,
    PRIMARY KEY (lead_id, rule_id)
);
