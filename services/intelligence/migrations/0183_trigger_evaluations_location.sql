-- The location of the lead a FireTriggers request_id was used for ('' for rows written before,
-- and for a deleted lead): a replay checks the caller's location claim against it, even when
-- nothing fired (no firing row to read the location from).
ALTER TABLE trigger_evaluations ADD COLUMN location_id text NOT NULL DEFAULT '';
