-- Claude (issue #13 A): a message may be written by a template standing in for Claude
-- ('fallback'), and keeps what the API call cost and why it fell back.
ALTER TABLE messages DROP CONSTRAINT messages_generator_check;
ALTER TABLE messages ADD CONSTRAINT messages_generator_check
    CHECK (generator IN ('template', 'claude', 'fallback'));
ALTER TABLE messages
    ADD COLUMN fallback_reason             text    NOT NULL DEFAULT '',
    ADD COLUMN cache_read_input_tokens     integer NOT NULL DEFAULT 0 CHECK (cache_read_input_tokens >= 0),
    ADD COLUMN cache_creation_input_tokens integer NOT NULL DEFAULT 0 CHECK (cache_creation_input_tokens >= 0),
    ADD COLUMN latency_ms                  integer NOT NULL DEFAULT 0 CHECK (latency_ms >= 0),
    ADD COLUMN prompt_sha256               text    NOT NULL DEFAULT '';

-- Every call made while Claude is configured, paid or not: what usage and budgets are
-- counted from. A row is written as soon as the writer returns, so a draft the guardrails
-- later refuse (or a dry run) is still accounted for.
CREATE TABLE generations (
    generation_id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    location_id                 text NOT NULL,
    lead_id                     uuid,
    kind                        text NOT NULL CHECK (kind IN ('message', 'reply_analysis')),
    generator                   text NOT NULL CHECK (generator IN ('claude', 'fallback')),
    fallback_reason             text NOT NULL DEFAULT '',
    -- The Claude model asked (or that would have been asked, for a fallback).
    model                       text NOT NULL,
    prompt_sha256               text NOT NULL DEFAULT '',
    output                      text NOT NULL DEFAULT '',
    input_tokens                integer NOT NULL DEFAULT 0 CHECK (input_tokens >= 0),
    output_tokens               integer NOT NULL DEFAULT 0 CHECK (output_tokens >= 0),
    cache_read_input_tokens     integer NOT NULL DEFAULT 0 CHECK (cache_read_input_tokens >= 0),
    cache_creation_input_tokens integer NOT NULL DEFAULT 0 CHECK (cache_creation_input_tokens >= 0),
    cost_micros_usd             bigint NOT NULL DEFAULT 0 CHECK (cost_micros_usd >= 0),
    latency_ms                  integer NOT NULL DEFAULT 0 CHECK (latency_ms >= 0),
    api_calls                   integer NOT NULL DEFAULT 0 CHECK (api_calls >= 0),
    create_time                 timestamptz NOT NULL DEFAULT now()
);
-- GetUsage and the month-to-date spend a budget is checked against.
CREATE INDEX generations_location_time ON generations (location_id, create_time);

-- A location's monthly budget when it differs from CONTENT_MONTHLY_BUDGET_USD.
CREATE TABLE location_budgets (
    location_id               text PRIMARY KEY,
    monthly_budget_micros_usd bigint NOT NULL CHECK (monthly_budget_micros_usd >= 0),
    update_time               timestamptz NOT NULL DEFAULT now()
);

-- Claim-first GenerateMessage: the first call with a request_id claims it before paying
-- for a generation; others wait for its message. A claim whose holder died expires.
CREATE TABLE generation_claims (
    request_id  text PRIMARY KEY,
    holder      uuid NOT NULL,
    expire_time timestamptz NOT NULL
);
