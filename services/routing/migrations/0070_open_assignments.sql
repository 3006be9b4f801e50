-- Open assignments that end (outcome, release, reassignment, inactivity), agents' matching
-- attributes, per-location settings, the outcome outbox and the success model.
ALTER TABLE agents
    ADD COLUMN languages     text[] NOT NULL DEFAULT '{}',
    ADD COLUMN specialties   text[] NOT NULL DEFAULT '{}',
    ADD COLUMN territories   text[] NOT NULL DEFAULT '{}',
    ADD COLUMN min_price_usd bigint NOT NULL DEFAULT 0 CHECK (min_price_usd >= 0),
    ADD COLUMN max_price_usd bigint NOT NULL DEFAULT 0 CHECK (max_price_usd >= 0),
    ADD COLUMN working_hours jsonb  NOT NULL DEFAULT '[]',
    ADD COLUMN team_id       text   NOT NULL DEFAULT '';

-- state: 1 open (holds a slot), 2 closed, 3 pond (no agent). `active` stays "holds a slot".
ALTER TABLE assignments
    ALTER COLUMN agent_id DROP NOT NULL,
    ADD COLUMN state              smallint NOT NULL DEFAULT 1,
    ADD COLUMN end_reason         text NOT NULL DEFAULT '',
    ADD COLUMN last_activity_time timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN predicted_success  double precision NOT NULL DEFAULT 0,
    ADD COLUMN candidates         jsonb NOT NULL DEFAULT '[]',
    -- The success model's features of (lead, agent) at routing time: what learning uses.
    ADD COLUMN features           text[] NOT NULL DEFAULT '{}';
UPDATE assignments SET state = 2, end_reason = 'closed by an outcome' WHERE NOT active;
ALTER TABLE assignments ADD CONSTRAINT assignments_slot CHECK ((state = 1) = active);
ALTER TABLE assignments ADD CONSTRAINT assignments_agent CHECK (state = 3 OR agent_id IS NOT NULL);
-- The inactivity sweep reads open assignments oldest activity first.
CREATE INDEX assignments_idle ON assignments (last_activity_time) WHERE active;

CREATE TABLE routing_settings (
    location_id     text PRIMARY KEY,
    inactivity_days integer NOT NULL CHECK (inactivity_days > 0),
    round_robin     boolean NOT NULL,
    load_weight     double precision NOT NULL CHECK (load_weight >= 0),
    update_time     timestamptz NOT NULL DEFAULT now()
);

-- Every recorded outcome, once per subscriber, delivered at least once by the relay.
CREATE TABLE outcome_outbox (
    id                bigserial PRIMARY KEY,
    event_id          uuid NOT NULL,
    subscriber        text NOT NULL,
    lead_id           uuid NOT NULL,
    location_id       text NOT NULL,
    agent_id          uuid,
    outcome           smallint NOT NULL,
    occurred_time     timestamptz NOT NULL,
    attempts          integer NOT NULL DEFAULT 0,
    next_attempt_time timestamptz NOT NULL DEFAULT now(),
    last_error        text NOT NULL DEFAULT '',
    published_time    timestamptz,
    create_time       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (event_id, subscriber)
);
CREATE INDEX outcome_outbox_due ON outcome_outbox (next_attempt_time, id) WHERE published_time IS NULL;

-- The success model of each location: the current weights, and every version kept.
CREATE TABLE success_models (
    location_id   text NOT NULL,
    version       bigint NOT NULL,
    weights       jsonb NOT NULL,
    outcomes_seen bigint NOT NULL,
    create_time   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (location_id, version)
);

-- Routing-time predictions scored against the WON / LOST that followed (GetRoutingStats).
CREATE TABLE prediction_results (
    lead_id       uuid PRIMARY KEY,
    location_id   text NOT NULL,
    predicted     double precision NOT NULL,
    won           boolean NOT NULL,
    occurred_time timestamptz NOT NULL,
    create_time   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX prediction_results_location ON prediction_results (location_id, create_time DESC);
