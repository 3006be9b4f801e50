-- An opt-out or suppression by address looks up every lead with that address, to stop
-- the journeys it leaves with no open channel (journeys/unreachable.py).
CREATE INDEX consents_phone ON consents (phone) WHERE phone <> '';
CREATE INDEX consents_email ON consents (email) WHERE email <> '';
