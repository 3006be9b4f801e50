-- The latest score per lead. Unqualified names land in the intelligence schema.
CREATE TABLE scores (
    lead_id       uuid PRIMARY KEY,
    location_id   text NOT NULL,
    score         double precision NOT NULL CHECK (score >= 0 AND score <= 100),
    tier          text NOT NULL CHECK (tier IN ('cold', 'warm', 'hot')),
    factors       jsonb NOT NULL,
    model_version text NOT NULL,
    score_time    timestamptz NOT NULL,
    -- The ScoreLead call that wrote this row: its retry returns the row as is.
    request_id    text
);
-- ListHighIntentLeads: a location's leads above a threshold, highest first; one direction for
-- both keys so the keyset condition is a row comparison the index can seek to.
CREATE INDEX scores_location_score ON scores (location_id, score DESC, lead_id DESC);
