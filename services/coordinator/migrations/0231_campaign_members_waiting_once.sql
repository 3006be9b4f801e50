-- recovery (#8): a lead a campaign enrolled may be enrolled again by a later campaign once
-- its journey ended (journeys/recovery.py), so "enrolled" no longer holds a lead for good.
-- The current journey keeps an enrolled lead out of other campaigns while it runs; a lead
-- still waits in at most one campaign at a time (cross-campaign dedupe under concurrent builds).
CREATE UNIQUE INDEX campaign_members_one_waiting ON campaign_members (lead_id) WHERE state = 1;
DROP INDEX campaign_members_one_campaign;
