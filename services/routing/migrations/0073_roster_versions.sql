-- A version per location that moves with every change to any of its agents (load included), in
-- the changing transaction: RouteLead keeps the roster in memory and re-reads it only when the
-- version moved, instead of scanning the location's agents on every route.
CREATE TABLE rosters (
    location_id text PRIMARY KEY,
    version     bigint NOT NULL
);

CREATE FUNCTION bump_roster() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO rosters AS r (location_id, version) VALUES (NEW.location_id, 1)
        ON CONFLICT (location_id) DO UPDATE SET version = r.version + 1;
    RETURN NULL;
END
$$;

CREATE TRIGGER agents_bump_roster AFTER INSERT OR UPDATE ON agents
    FOR EACH ROW EXECUTE FUNCTION bump_roster();
