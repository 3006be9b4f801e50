-- recovery (#8): an imported lead's last activity before it reached LeadEngine (ImportLeads'
-- Lead.last_activity_time), so a campaign's min_days_inactive does not count the import itself
-- as activity. NULL: not given (the record's own times decide, as before).
ALTER TABLE leads ADD COLUMN last_activity_time timestamptz;
