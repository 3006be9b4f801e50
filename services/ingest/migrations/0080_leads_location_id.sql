-- ListLeadProfiles: a location's live leads in lead_id order, keyset on lead_id (bulk scoring).
CREATE INDEX leads_location_id_live ON leads (location_id, lead_id) WHERE delete_time IS NULL;
