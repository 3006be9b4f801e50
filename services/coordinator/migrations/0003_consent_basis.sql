-- Consent basis: each location's consent policy (versioned) and a ledger of every
-- consent change. Expand-only: the release still running keeps working against this schema.

-- One row per version; the highest version is the location's policy. Never updated.
CREATE TABLE consent_policies (
    location_id           text NOT NULL,
    version               integer NOT NULL,
    -- Trimmed as given; matched against lead tags case-insensitively.
    sms_consent_tags      text[] NOT NULL,
    attestation           text NOT NULL,
    email_requires_opt_in boolean NOT NULL,
    request_id            text,
    create_time           timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (location_id, version),
    UNIQUE (location_id, request_id)
);

-- The lead's current basis per channel, as last evaluated: the words GetConsent shows
-- and a key naming the evidence (e.g. 'tag:3:sms-opt-in', 'lead_record', 'can_spam'),
-- so re-evaluating to the same evidence changes nothing. '' = no basis.
ALTER TABLE consents
    ADD COLUMN sms_basis text NOT NULL DEFAULT '',
    ADD COLUMN sms_basis_key text NOT NULL DEFAULT '',
    ADD COLUMN email_basis text NOT NULL DEFAULT '',
    ADD COLUMN email_basis_key text NOT NULL DEFAULT '';

-- Every consent change, in order: a basis granted or withdrawn, an opt-out, an opt-in.
-- Append-only: the trigger below refuses UPDATE and DELETE.
CREATE TABLE consent_ledger (
    entry_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- NULL when a report names only an address.
    lead_id     uuid,
    location_id text NOT NULL DEFAULT '',
    channel     smallint NOT NULL,
    -- 'basis' (granted or changed), 'basis_withdrawn', 'opt_out', 'opt_in'.
    change      text NOT NULL,
    -- Who or what made the change, e.g. 'consent policy', 'lead record', 'lead (keyword)'.
    actor       text NOT NULL,
    -- What proves it: basis words, policy version and tag, keyword, report reason.
    basis       text NOT NULL DEFAULT '',
    evidence    jsonb NOT NULL DEFAULT '{}',
    address     text NOT NULL DEFAULT '',
    occur_time  timestamptz NOT NULL,
    create_time timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX consent_ledger_lead ON consent_ledger (lead_id, entry_id);

CREATE FUNCTION consent_ledger_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'consent_ledger is append-only (% refused)', TG_OP;
END
$$;
CREATE TRIGGER consent_ledger_append_only BEFORE UPDATE OR DELETE ON consent_ledger
    FOR EACH ROW EXECUTE FUNCTION consent_ledger_is_append_only();

-- Leads known before this migration: their recorded consent is their basis.
UPDATE consents SET sms_basis = 'lead record', sms_basis_key = 'lead_record' WHERE sms_consent;
UPDATE consents SET email_basis = 'lead record', email_basis_key = 'lead_record' WHERE email_consent;
INSERT INTO consent_ledger (lead_id, channel, change, actor, basis, evidence, address, occur_time)
SELECT lead_id, 1, 'basis', 'migration 0003', 'lead record', '{"source": "lead record"}'::jsonb, phone, update_time
FROM consents WHERE sms_consent
UNION ALL
SELECT lead_id, 2, 'basis', 'migration 0003', 'lead record', '{"source": "lead record"}'::jsonb, email, update_time
FROM consents WHERE email_consent;
