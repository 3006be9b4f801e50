-- Scores stay true as time passes: each row keeps the parts of its score instead of one number
-- that only held when it was written.
--   fit      points for what the lead told us; they do not decay.
--   eng_key  ln(sum of fresh event points x e^(lambda x t)), t in days since 2020-01-01 and
--            lambda = ln 2 / half-life: engagement at time t is exp(eng_key - lambda x t). The key
--            never changes as time passes, so an index on it orders a fit group by engagement at
--            any time. '-Infinity' = no engagement.
--   kinds    per event kind: counted, capped and m = ln(sum of e^(lambda x t_i)), so new points per
--            kind rescore in SQL without re-reading events.
--   profile  the fit inputs, so new fit points rescore in SQL without asking ingest.
-- score and score_time keep their meaning: the score as of score_time (the reference time).
ALTER TABLE scores
    ADD COLUMN fit double precision NOT NULL DEFAULT 0,
    ADD COLUMN eng_key double precision NOT NULL DEFAULT '-Infinity',
    ADD COLUMN kinds jsonb NOT NULL DEFAULT '{}',
    ADD COLUMN profile jsonb NOT NULL DEFAULT '{}',
    ADD COLUMN config_version bigint NOT NULL DEFAULT 0;

-- Rows written before: fit is the sum of their fit factors; their engagement (the rest) was
-- exact at score_time, decayed with the default 14-day half-life.
UPDATE scores SET
    fit = coalesce((SELECT sum((f->>'points')::float8) FROM jsonb_array_elements(factors) f
                    WHERE f->>'name' IN ('preapproved', 'budget', 'timeline', 'phone', 'email', 'source')), 0),
    eng_key = CASE WHEN e.points > 0
        THEN ln(e.points) + (ln(2) / 14.0) * extract(epoch FROM score_time - '2020-01-01T00:00Z') / 86400
        ELSE '-Infinity' END
FROM (SELECT lead_id AS id,
             coalesce((SELECT sum((f->>'points')::float8) FROM jsonb_array_elements(s.factors) f
                       WHERE f->>'name' NOT IN ('preapproved', 'budget', 'timeline', 'phone', 'email',
                                                'source')), 0) AS points
      FROM scores s) e
WHERE e.id = scores.lead_id;

-- ListHighIntentLeads walks each fit group of a location by engagement key (see repository).
DROP INDEX scores_location_score;
CREATE INDEX scores_location_fit_key ON scores (location_id, fit DESC, eng_key DESC, lead_id DESC);

-- Points per event kind and fit attribute, per location; a missing location uses the defaults.
CREATE TABLE scoring_configs (
    location_id  text PRIMARY KEY,
    version      bigint NOT NULL CHECK (version > 0),
    event_points jsonb NOT NULL,
    fit_points   jsonb NOT NULL,
    request_id   text NOT NULL,
    update_time  timestamptz NOT NULL DEFAULT now()
);

-- The conversion model of each location: logistic regression weights learnt online.
CREATE TABLE conversion_models (
    location_id   text PRIMARY KEY,
    version       bigint NOT NULL,
    weights       jsonb NOT NULL,
    outcomes_seen bigint NOT NULL DEFAULT 0,
    update_time   timestamptz NOT NULL DEFAULT now()
);

-- Every observed outcome, once per request_id. predicted is what the model said before learning
-- from it: the rolling hold-out GetModelStats reads.
CREATE TABLE outcomes (
    request_id    text PRIMARY KEY,
    location_id   text NOT NULL,
    lead_id       uuid NOT NULL,
    outcome       text NOT NULL,
    occurred_time timestamptz NOT NULL,
    observe_time  timestamptz NOT NULL DEFAULT now(),
    converted     boolean,
    -- The features the lead had when the outcome occurred (NULL: the lead was never scored).
    features      jsonb,
    predicted     double precision,
    model_version bigint
);
CREATE INDEX outcomes_location_trained ON outcomes (location_id, observe_time DESC) WHERE predicted IS NOT NULL;
