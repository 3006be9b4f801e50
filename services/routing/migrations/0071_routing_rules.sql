-- Per-location routing rules (first active match wins) and team leads as a fallback.
ALTER TABLE agents ADD COLUMN team_lead boolean NOT NULL DEFAULT false;

CREATE TABLE routing_rules (
    rule_id     uuid PRIMARY KEY,
    location_id text NOT NULL,
    position    integer NOT NULL,
    name        text NOT NULL,
    -- RuleConditions and the target, as the checked rule (rules.py) writes them.
    conditions  jsonb NOT NULL,
    target      smallint NOT NULL,
    agent_id    uuid REFERENCES agents (agent_id),
    team_id     text NOT NULL DEFAULT '',
    require_territory boolean NOT NULL DEFAULT false,
    require_specialty boolean NOT NULL DEFAULT false,
    require_price     boolean NOT NULL DEFAULT false,
    active      boolean NOT NULL DEFAULT true,
    create_time timestamptz NOT NULL DEFAULT now(),
    update_time timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX routing_rules_order ON routing_rules (location_id, position, rule_id);
