-- A version per location that moves with every change to any of its agents (load included), in
-- the changing transaction: RouteLead keeps the roster in memory and re-reads it only when the
-- version moved, instead of scanning the location's agents on every route. Every transaction
-- that changes agents bumps it as its first statement, so the row is also the one lock they all
-- take first (no deadlock between routes, outcomes, releases and SLA moves).
CREATE TABLE rosters (
    location_id text PRIMARY KEY,
    version     bigint NOT NULL
);
INSERT INTO rosters (location_id, version) SELECT DISTINCT location_id, 1 FROM agents;
