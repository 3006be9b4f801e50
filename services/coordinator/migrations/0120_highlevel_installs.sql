-- Per-location HighLevel marketplace-app installs (OAuth). Tokens are Fernet ciphertext
-- (HIGHLEVEL_TOKEN_KEYS): a database dump alone cannot send as any location.
CREATE TABLE highlevel_installs (
    location_id   text PRIMARY KEY,
    company_id    text NOT NULL DEFAULT '',
    user_type     text NOT NULL DEFAULT '',
    -- 'active' (tokens held), 'needs_reinstall' (a refresh was refused), 'uninstalled'.
    state         text NOT NULL,
    state_reason  text NOT NULL DEFAULT '',
    access_token  bytea,
    refresh_token bytea,
    expire_time   timestamptz,
    -- sha256 of the authorization code that made this install: the callback may be
    -- retried with the same (single-use) code, and must then answer the same install.
    code_digest   text NOT NULL DEFAULT '',
    install_time  timestamptz NOT NULL DEFAULT now(),
    refresh_time  timestamptz,
    update_time   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT highlevel_installs_tokens_only_when_active
        CHECK ((state = 'active') = (access_token IS NOT NULL AND refresh_token IS NOT NULL))
);
CREATE INDEX highlevel_installs_expiring ON highlevel_installs (expire_time) WHERE state = 'active';
CREATE INDEX highlevel_installs_code ON highlevel_installs (code_digest) WHERE code_digest <> '';
