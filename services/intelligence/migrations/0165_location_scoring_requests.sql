-- Bulk scoring a location asked for after an import (RequestLocationScoring): one row per
-- location. `requested` counts requests, `done` is the count the last finished run began
-- after, so requests arriving during a run coalesce into one more run. Expand-only.
CREATE TABLE location_scoring_requests (
    location_id       text PRIMARY KEY,
    requested         bigint NOT NULL,
    done              bigint NOT NULL DEFAULT 0,
    -- A run in progress holds the lease and renews it; a crashed run's lease lapses.
    lease_until       timestamptz,
    next_attempt_time timestamptz NOT NULL DEFAULT now(),
    failures          integer NOT NULL DEFAULT 0,
    last_error        text,
    update_time       timestamptz NOT NULL DEFAULT now()
);

-- What the worker polls for: locations with requests newer than their last run.
CREATE INDEX location_scoring_requests_due ON location_scoring_requests (next_attempt_time)
    WHERE requested > done;
