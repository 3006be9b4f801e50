-- recovery (#8): a lead may have several journeys over time, one after the other. A recovery
-- campaign may start a new one once the previous ended (journeys/recovery.py says which ends
-- allow it). The ended journey keeps its row, its communications and their step keys.
--
-- generation numbers a lead's journeys from 1; current marks the latest, the one GetJourney,
-- replies, outcomes and pauses act on. Rows of earlier releases are each their lead's first
-- and current journey.
ALTER TABLE journeys
    ADD COLUMN generation integer NOT NULL DEFAULT 1 CHECK (generation >= 1),
    ADD COLUMN current boolean NOT NULL DEFAULT true;

CREATE UNIQUE INDEX journeys_lead_generation ON journeys (lead_id, generation);
-- What ON CONFLICT (lead_id) WHERE current arbitrates: one current journey per lead.
CREATE UNIQUE INDEX journeys_current ON journeys (lead_id) WHERE current;
-- Never two active journeys for a lead, whatever writes them (state 1 = JOURNEY_STATE_ACTIVE).
CREATE UNIQUE INDEX journeys_one_active ON journeys (lead_id) WHERE state = 1;
-- Only a journey that is not the current one may share its lead: the old one-per-lead rule goes.
ALTER TABLE journeys DROP CONSTRAINT journeys_lead_id_key;
