-- Proof per send: the compliance record of every automated message, and the facts the
-- recipient's time zone and state are resolved from. Expand-only.

-- Where the lead says it lives: more signals for its zone and the state rules that apply.
ALTER TABLE consents
    ADD COLUMN state text NOT NULL DEFAULT '',
    ADD COLUMN postal_code text NOT NULL DEFAULT '';

-- One per message (lead, step_key as in communications), as last evaluated; a decision
-- to send is final. send_time is set when the gates let it go: the caps count those.
CREATE TABLE compliance_records (
    lead_id          uuid NOT NULL,
    step_key         text NOT NULL,
    location_id      text NOT NULL,
    channel          smallint NOT NULL,
    address          text NOT NULL,
    -- 'send', 'schedule', 'hold' or 'block'.
    decision         text NOT NULL,
    reason           text NOT NULL DEFAULT '',
    -- The consent_ledger entry of the channel's basis when evaluated; NULL when none.
    consent_entry_id bigint,
    -- [{"gate": "time_window", "verdict": "pass", "detail": "..."}, ...] in evaluation order.
    gates            jsonb NOT NULL,
    -- {"zones": [...], "states": [...], "why": [...]}
    recipient        jsonb NOT NULL,
    rules_version    text NOT NULL,
    evaluate_time    timestamptz NOT NULL,
    send_time        timestamptz,
    evaluations      integer NOT NULL DEFAULT 1,
    create_time      timestamptz NOT NULL DEFAULT now(),
    update_time      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (lead_id, step_key)
);
CREATE INDEX compliance_records_export ON compliance_records (location_id, evaluate_time, lead_id, step_key);
CREATE INDEX compliance_records_address_sends ON compliance_records (address, send_time)
    WHERE send_time IS NOT NULL;
CREATE INDEX compliance_records_lead_sends ON compliance_records (lead_id, channel, send_time)
    WHERE send_time IS NOT NULL;

-- Frequency caps per location (automated messages per lead per channel); a location
-- without a row uses the service's defaults (COORDINATOR_*_CAP).
CREATE TABLE frequency_caps (
    location_id text PRIMARY KEY,
    sms_day     integer NOT NULL,
    sms_week    integer NOT NULL,
    email_day   integer NOT NULL,
    email_week  integer NOT NULL,
    update_time timestamptz NOT NULL DEFAULT now()
);
