-- What routing matches a lead to agents on: territory, language, intent (LeadIntent).
ALTER TABLE leads
    ADD COLUMN postal_code        text NOT NULL DEFAULT '',
    ADD COLUMN preferred_language text NOT NULL DEFAULT '',
    ADD COLUMN intent             smallint NOT NULL DEFAULT 0;
