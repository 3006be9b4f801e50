-- Agents and who holds which lead. Unqualified names land in the routing schema.
CREATE TABLE agents (
    agent_id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    location_id       text NOT NULL,
    external_user_id  text,
    name              text NOT NULL,
    email             text NOT NULL DEFAULT '',
    phone             text NOT NULL DEFAULT '',
    timezone          text NOT NULL DEFAULT '',
    capacity          integer NOT NULL DEFAULT 0 CHECK (capacity >= 0),
    available         boolean NOT NULL DEFAULT true,
    active_lead_count integer NOT NULL DEFAULT 0 CHECK (active_lead_count >= 0),
    last_assign_time  timestamptz,
    request_id        text UNIQUE,
    create_time       timestamptz NOT NULL DEFAULT now(),
    update_time       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (location_id, external_user_id)
);
-- ListAgents pages by (name, agent_id) within a location; RouteLead scans a location's agents.
CREATE INDEX agents_location_name ON agents (location_id, name, agent_id);

CREATE TABLE assignments (
    lead_id     uuid PRIMARY KEY,
    location_id text NOT NULL,
    agent_id    uuid NOT NULL REFERENCES agents (agent_id),
    reasons     text[] NOT NULL,
    active      boolean NOT NULL DEFAULT true,
    assign_time timestamptz NOT NULL DEFAULT now(),
    update_time timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX assignments_agent ON assignments (agent_id) WHERE active;

CREATE TABLE outcomes (
    outcome_id    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    lead_id       uuid NOT NULL,
    agent_id      uuid NOT NULL REFERENCES agents (agent_id),
    outcome       smallint NOT NULL,
    occurred_time timestamptz NOT NULL,
    request_id    text UNIQUE,
    create_time   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX outcomes_lead ON outcomes (lead_id, occurred_time);
