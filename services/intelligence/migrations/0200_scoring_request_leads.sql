-- Imports are scored lead by lead: a RequestLocationScoring that names leads (an import batch's
-- inserted leads) stores them here with the request count it raised the location to; a run that
-- claimed count K scores the rows up to K and removes them when it finishes. Rows added during a
-- run carry a higher count, so they wait for the run that follows (requested > done).
CREATE TABLE location_scoring_leads (
    location_id text NOT NULL,
    lead_id     uuid NOT NULL,
    request_no  bigint NOT NULL,
    PRIMARY KEY (location_id, lead_id)
);

-- The count of the latest request that named no leads (the whole location). A run whose claimed
-- count is below it (whole_after > done) scores the whole location. Requests already waiting were
-- whole-location requests.
ALTER TABLE location_scoring_requests ADD COLUMN whole_after bigint NOT NULL DEFAULT 0;
UPDATE location_scoring_requests SET whole_after = requested WHERE requested > done;
