-- ListLeads oldest_first (campaign audiences): a location's live leads in creation order.
CREATE INDEX leads_location_created ON leads (location_id, create_time, lead_id) WHERE delete_time IS NULL;
