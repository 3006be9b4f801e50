-- The OAuth states of HighLevel installs that reached our callback (branch health). A state
-- is single-use: its nonce is recorded with the code it first came with, so the same
-- callback retried (same code) is answered again while any other use is refused. Rows past
-- expire_time are only history (the signature's expiry refuses them) and are pruned.
CREATE TABLE highlevel_oauth_states (
    nonce        text PRIMARY KEY,
    code_digest  text NOT NULL,
    expire_time  timestamptz NOT NULL,
    use_time     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX highlevel_oauth_states_expire ON highlevel_oauth_states (expire_time);
