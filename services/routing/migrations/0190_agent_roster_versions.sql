-- Each agent row carries the roster version of the transaction that last changed it, so
-- RouteLead's in-memory roster catches up by reading only the agents changed since the version
-- it holds (one indexed read of a few rows) instead of every agent's load. Stamped by a
-- trigger, not by each statement, so no writer can forget it. Every transaction that changes
-- agents bumps rosters first (0073), so the version read here is that transaction's own.
ALTER TABLE agents ADD COLUMN roster_version bigint NOT NULL DEFAULT 0;
CREATE INDEX agents_roster_changes ON agents (location_id, roster_version);

-- SET search_path FROM CURRENT: the function finds this schema's rosters whoever fires it.
CREATE FUNCTION agents_stamp_roster_version() RETURNS trigger LANGUAGE plpgsql
    SET search_path FROM CURRENT AS $$
BEGIN
    NEW.roster_version := coalesce((SELECT version FROM rosters WHERE location_id = NEW.location_id), 0);
    RETURN NEW;
END
$$;

CREATE TRIGGER agents_stamp_roster_version BEFORE INSERT OR UPDATE ON agents
    FOR EACH ROW EXECUTE FUNCTION agents_stamp_roster_version();
