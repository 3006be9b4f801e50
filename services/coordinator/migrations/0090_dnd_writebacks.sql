-- Opt-outs written back to HighLevel as the contact's DND for that channel (compliance.md §4:
-- the CRM must not text someone who opted out with us). One row per consent-ledger opt-out
-- entry once a writer has taken it; the ledger itself stays append-only.
CREATE TABLE dnd_writebacks (
    entry_id          bigint PRIMARY KEY REFERENCES consent_ledger (entry_id),
    -- 'claimed' (a writer is calling), 'retry' (due again at next_attempt_time), 'done', 'failed'.
    state             text NOT NULL,
    attempts          integer NOT NULL DEFAULT 0,
    next_attempt_time timestamptz NOT NULL DEFAULT now(),
    last_error        text NOT NULL DEFAULT '',
    update_time       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX consent_ledger_opt_outs ON consent_ledger (entry_id) WHERE change = 'opt_out' AND lead_id IS NOT NULL;
