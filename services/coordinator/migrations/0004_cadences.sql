-- Cadences (the steps a journey walks, per location) and where each journey stands on one.
-- Expand-only: the release still running keeps working against this schema.

CREATE TABLE cadences (
    cadence_id  uuid PRIMARY KEY,
    location_id text NOT NULL,
    name        text NOT NULL DEFAULT '',
    -- [{"delay_s": 86400, "channel": 1, "purpose": 2}, ...] in step order.
    steps       jsonb NOT NULL,
    is_default  boolean NOT NULL DEFAULT false,
    create_time timestamptz NOT NULL DEFAULT now(),
    update_time timestamptz NOT NULL DEFAULT now()
);
-- At most one default per location: also what makes concurrent first journeys create one.
CREATE UNIQUE INDEX cadences_one_default ON cadences (location_id) WHERE is_default;
CREATE INDEX cadences_location_page ON cadences (location_id, create_time DESC, cadence_id DESC);

ALTER TABLE journeys
    ADD COLUMN cadence_id uuid REFERENCES cadences (cadence_id),
    -- The step scheduled next (0: the first touch) and when it is due.
    ADD COLUMN step_index integer NOT NULL DEFAULT 0,
    ADD COLUMN next_step_time timestamptz,
    -- Paused while pause_reason <> '' and (pause_end_time IS NULL OR pause_end_time > now).
    ADD COLUMN pause_reason text NOT NULL DEFAULT '',
    ADD COLUMN pause_end_time timestamptz,
    -- What content may say about the lead (a serialized content.v1.MessageContext),
    -- kept from the first touch for the steps written later.
    ADD COLUMN message_context bytea;
