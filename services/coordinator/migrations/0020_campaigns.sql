-- Recovery campaigns: an audience gathered from ingest, enrolled at most daily_limit a day.
-- Expand-only: the release still running keeps working against this schema.

CREATE TABLE campaigns (
    campaign_id       uuid PRIMARY KEY,
    location_id       text NOT NULL,
    name              text NOT NULL,
    cadence_id        uuid NOT NULL REFERENCES cadences (cadence_id),
    min_days_inactive integer NOT NULL DEFAULT 0,
    tags              text[] NOT NULL DEFAULT '{}',
    sources           smallint[] NOT NULL DEFAULT '{}',
    -- 0 = any score.
    max_score         double precision NOT NULL DEFAULT 0,
    daily_limit       integer NOT NULL CHECK (daily_limit > 0),
    -- CampaignState: 1 active, 2 paused, 3 completed.
    state             smallint NOT NULL,
    request_id        text NOT NULL,
    -- Enrolment days are counted from here; a pause moves it on by the pause's length.
    start_time        timestamptz NOT NULL,
    -- Gathering the audience: the inactivity cut-off fixed at start, ingest's page token
    -- of the next page (NULL once every page was read), and how many leads joined.
    inactive_since    timestamptz,
    audience_token    text DEFAULT '',
    audience_count    integer NOT NULL DEFAULT 0,
    pause_time        timestamptz,
    create_time       timestamptz NOT NULL DEFAULT now(),
    update_time       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (location_id, request_id)
);
CREATE INDEX campaigns_location_page ON campaigns (location_id, create_time DESC, campaign_id DESC);

-- One row per lead gathered into a campaign. state: 1 waiting, 2 enrolled, 3 skipped.
CREATE TABLE campaign_members (
    campaign_id  uuid NOT NULL REFERENCES campaigns (campaign_id),
    lead_id      uuid NOT NULL,
    -- Its place in the audience: day position / daily_limit, slot within that day.
    position     integer NOT NULL,
    state        smallint NOT NULL DEFAULT 1,
    -- When it is enrolled: inside the lead's sending window on its day.
    due_time     timestamptz NOT NULL,
    -- While set and in the future, an enroller holds it.
    claim_until  timestamptz,
    -- When an enroller took it (counts against that day's limit unless skipped).
    claim_time   timestamptz,
    enroll_time  timestamptz,
    skip_reason  text NOT NULL DEFAULT '',
    PRIMARY KEY (campaign_id, lead_id)
);
-- A lead is waiting in, or enrolled by, at most one campaign: cross-campaign dedupe
-- holds under concurrent builds because the second insert conflicts here.
CREATE UNIQUE INDEX campaign_members_one_campaign ON campaign_members (lead_id) WHERE state IN (1, 2);
-- The enroller's scan for due members, and the day's count against daily_limit.
CREATE INDEX campaign_members_due ON campaign_members (campaign_id, due_time) WHERE state = 1;
CREATE INDEX campaign_members_claimed ON campaign_members (campaign_id, claim_time) WHERE state IN (1, 2);

-- The campaign that started a journey (NULL: a journey a lead event started).
ALTER TABLE journeys ADD COLUMN campaign_id uuid REFERENCES campaigns (campaign_id);
CREATE INDEX journeys_campaign ON journeys (campaign_id) WHERE campaign_id IS NOT NULL;
