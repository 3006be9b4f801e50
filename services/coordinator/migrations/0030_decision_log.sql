-- The decision log: every decision the coordinator made about a lead, in order, so that
-- one read (GetLeadTimeline) answers "why did this lead get this message at this time".
-- Expand-only: the release still running keeps working against this schema.

-- Append-only: the trigger below refuses UPDATE and DELETE.
CREATE TABLE decisions (
    entry_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    lead_id     uuid NOT NULL,
    -- What kind of decision (services/coordinator/timeline/entries.py names them).
    kind        text NOT NULL,
    -- What it was decided on: a score's factors, routing's reasons, a gate's reason, ...
    details     jsonb NOT NULL DEFAULT '{}',
    -- When it was decided. clock_timestamp(), not now(): decisions made in one transaction
    -- keep their order in time too.
    occur_time  timestamptz NOT NULL DEFAULT clock_timestamp(),
    -- Set for what the coordinator is told (an event, a peer's answer to a request_id), so
    -- a redelivery or retry records nothing twice.
    dedupe_key  text,
    create_time timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX decisions_dedupe ON decisions (lead_id, dedupe_key) WHERE dedupe_key IS NOT NULL;
-- GetLeadTimeline pages a lead's entries oldest first.
CREATE INDEX decisions_lead_page ON decisions (lead_id, occur_time, entry_id);

CREATE FUNCTION decisions_are_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'decisions is append-only (% refused)', TG_OP;
END
$$;
CREATE TRIGGER decisions_append_only BEFORE UPDATE OR DELETE ON decisions
    FOR EACH ROW EXECUTE FUNCTION decisions_are_append_only();

-- The coordinator's own decisions are logged by triggers on the rows that hold them, so
-- each entry commits in the same transaction as its decision, whichever code path made
-- it (first touch, scheduler, opt-out, stop, pause): a message recorded, held or
-- blocked by a gate, sent; a journey started, stopped, paused, completed; a consent
-- basis granted or an opt-out; an agent notified.

CREATE FUNCTION log_communication() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.status IS NOT DISTINCT FROM OLD.status
        AND NEW.status_reason IS NOT DISTINCT FROM OLD.status_reason
        AND NEW.scheduled_time IS NOT DISTINCT FROM OLD.scheduled_time THEN
        RETURN NULL;  -- a claim, an attempt count, the body filled in: no decision
    END IF;
    INSERT INTO decisions (lead_id, kind, details) VALUES (
        NEW.lead_id,
        CASE WHEN TG_OP = 'INSERT' THEN 'communication' ELSE 'communication_status' END,
        jsonb_build_object(
            'communication_id', NEW.communication_id,
            'step_key', coalesce(NEW.step_key, ''),
            'channel', NEW.channel,
            'direction', NEW.direction,
            'status', NEW.status,
            'from_status', CASE WHEN TG_OP = 'UPDATE' THEN OLD.status END,
            'status_reason', NEW.status_reason,
            'scheduled_time', NEW.scheduled_time,
            -- Recorded already claimed for sending: the gates let it go out now.
            'claimed', NEW.claim_until IS NOT NULL,
            'provider_message_id', NEW.provider_message_id
        )
    );
    RETURN NULL;
END
$$;
CREATE TRIGGER communications_logged AFTER INSERT OR UPDATE ON communications
    FOR EACH ROW EXECUTE FUNCTION log_communication();

CREATE FUNCTION log_journey() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.state IS NOT DISTINCT FROM OLD.state
        AND NEW.stop_reason IS NOT DISTINCT FROM OLD.stop_reason
        AND NEW.pause_reason IS NOT DISTINCT FROM OLD.pause_reason
        AND NEW.pause_end_time IS NOT DISTINCT FROM OLD.pause_end_time
        AND NEW.cadence_id IS NOT DISTINCT FROM OLD.cadence_id THEN
        RETURN NULL;  -- score, step pointer, first touch time: logged where decided
    END IF;
    INSERT INTO decisions (lead_id, kind, details) VALUES (
        NEW.lead_id,
        'journey',
        jsonb_build_object(
            'journey_id', NEW.journey_id,
            'state', NEW.state,
            'from_state', CASE WHEN TG_OP = 'UPDATE' THEN OLD.state END,
            'stop_reason', NEW.stop_reason,
            'pause_reason', NEW.pause_reason,
            'was_paused', TG_OP = 'UPDATE' AND OLD.pause_reason <> '',
            'pause_end_time', NEW.pause_end_time,
            'cadence_id', NEW.cadence_id,
            'cadence_pinned', NEW.cadence_id IS NOT NULL
                AND (TG_OP = 'INSERT' OR OLD.cadence_id IS NULL),
            'agent_id', NEW.agent_id,
            'agent_reason', NEW.agent_reason
        )
    );
    RETURN NULL;
END
$$;
CREATE TRIGGER journeys_logged AFTER INSERT OR UPDATE ON journeys
    FOR EACH ROW EXECUTE FUNCTION log_journey();

CREATE FUNCTION log_consent_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.lead_id IS NULL THEN
        RETURN NULL;  -- an address-only report: the leads it blocks are logged by their rows
    END IF;
    INSERT INTO decisions (lead_id, kind, details) VALUES (
        NEW.lead_id,
        'consent',
        jsonb_build_object(
            'channel', NEW.channel,
            'change', NEW.change,
            'actor', NEW.actor,
            'basis', NEW.basis,
            'evidence', NEW.evidence,
            'ledger_entry_id', NEW.entry_id,
            'occur_time', NEW.occur_time
        )
    );
    RETURN NULL;
END
$$;
CREATE TRIGGER consent_ledger_logged AFTER INSERT ON consent_ledger
    FOR EACH ROW EXECUTE FUNCTION log_consent_change();

CREATE FUNCTION log_notification() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.status IS NOT DISTINCT FROM OLD.status
        AND NEW.status_reason IS NOT DISTINCT FROM OLD.status_reason THEN
        RETURN NULL;
    END IF;
    INSERT INTO decisions (lead_id, kind, details) VALUES (
        NEW.lead_id,
        'notification',
        jsonb_build_object(
            'notification_id', NEW.notification_id,
            'agent_id', NEW.agent_id,
            'step_key', NEW.step_key,
            'channel', NEW.channel,
            'status', NEW.status,
            'status_reason', NEW.status_reason
        )
    );
    RETURN NULL;
END
$$;
CREATE TRIGGER notifications_logged AFTER INSERT OR UPDATE ON notifications
    FOR EACH ROW EXECUTE FUNCTION log_notification();

-- Leads known before this migration: their journeys and messages as they stand now, at
-- the time each was created, so that their timelines are not empty.
INSERT INTO decisions (lead_id, kind, details, occur_time)
SELECT lead_id, 'journey',
    jsonb_build_object('journey_id', journey_id, 'state', state, 'stop_reason', stop_reason,
        'pause_reason', pause_reason, 'cadence_id', cadence_id, 'agent_id', agent_id,
        'agent_reason', agent_reason, 'backfilled', true),
    create_time
FROM journeys;
INSERT INTO decisions (lead_id, kind, details, occur_time)
SELECT lead_id, 'communication',
    jsonb_build_object('communication_id', communication_id, 'step_key', coalesce(step_key, ''),
        'channel', channel, 'direction', direction, 'status', status, 'status_reason', status_reason,
        'scheduled_time', scheduled_time, 'claimed', false, 'provider_message_id', provider_message_id,
        'backfilled', true),
    create_time
FROM communications;
