-- Issue 13, item 8: what the outreach queue (`crates/core/src/crm/outreach.rs`)
-- needs beyond seed 001's `outreach_queue`.
--
-- 1. The state machine's records. 001 has status, scheduled_at (the time the user
--    asked for), sent_at and error; the sender also keeps when it claimed a row
--    (status `scheduled`: a definite send time within the caps and outside quiet
--    hours), how many send attempts were made (a sender that is unavailable is tried
--    again, up to a limit, before the row fails), the DM the send recorded, and when
--    the user cancelled. The priority is 1 (most urgent) to 10, 001's default 5.
--    Rows are written only by the domain (the generic writes are refused), so these
--    hold from the first row on.
ALTER TABLE outreach_queue
    ADD COLUMN claimed_at TIMESTAMPTZ,
    ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    ADD COLUMN sent_message_id UUID,
    ADD COLUMN cancelled_at TIMESTAMPTZ,
    ALTER COLUMN priority SET NOT NULL,
    ALTER COLUMN status SET NOT NULL,
    ALTER COLUMN created_at SET NOT NULL,
    ADD CONSTRAINT outreach_queue_priority_range CHECK (priority BETWEEN 1 AND 10),
    -- the DM a send recorded; a DM removed later (with its contact, or an erasure)
    -- leaves the queue row saying it was sent
    ADD CONSTRAINT outreach_queue_sent_message_fkey FOREIGN KEY (user_id, sent_message_id)
        REFERENCES instagram_messages (user_id, id) ON DELETE SET NULL (sent_message_id);

COMMENT ON COLUMN outreach_queue.priority IS '1 (most urgent, sent first) to 10; 001''s default 5.';
COMMENT ON COLUMN outreach_queue.scheduled_at IS 'Not before this time (the user''s wish); NULL: as soon as the caps and quiet hours allow.';
COMMENT ON COLUMN outreach_queue.claimed_at IS 'When the sender claimed the row for sending (status scheduled).';
COMMENT ON COLUMN outreach_queue.attempts IS 'Send attempts made; an unavailable sender is tried again until the limit, then the row fails.';
COMMENT ON COLUMN outreach_queue.sent_message_id IS 'The instagram_messages row the send recorded.';

-- The sender's read: a tenant's open rows in send order (priority, then due time).
CREATE INDEX idx_outreach_open ON outreach_queue (user_id, priority, (coalesce(scheduled_at, created_at)), created_at, id)
    WHERE status IN ('pending', 'scheduled');
-- The list, newest first.
CREATE INDEX idx_outreach_list ON outreach_queue (user_id, created_at DESC, id DESC);
-- The daily cap: what the queue sent in a local day.
CREATE INDEX idx_outreach_sent ON outreach_queue (user_id, sent_at) WHERE status = 'sent';

-- 2. Each user's sending limits: at most `daily_cap` queue messages per local
--    calendar day (0 pauses sending), none between quiet_start and quiet_end in the
--    user's time zone (`users.timezone`; a window may cross midnight; equal times
--    mean no quiet hours). No row: the defaults.
CREATE TABLE outreach_settings (
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    daily_cap INTEGER NOT NULL DEFAULT 20 CHECK (daily_cap BETWEEN 0 AND 1000),
    quiet_start TIME NOT NULL DEFAULT '21:00',
    quiet_end TIME NOT NULL DEFAULT '08:00',
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id)
);
COMMENT ON TABLE outreach_settings IS 'Issue 13. Per-user outreach limits: the daily send cap and quiet hours (in users.timezone).';
SELECT everreach_tenant_rls('outreach_settings');

-- 3. The tenants with outreach to send at p_now (claimed rows, or pending rows whose
--    time has come), for the sender's every-minute run, which then works each in its
--    own tenant transaction. Crosses tenants, so it reads as everreach_definer and
--    returns ids only.
CREATE FUNCTION everreach_outreach_due_tenants(p_now timestamptz) RETURNS SETOF uuid
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, public
    AS $$
SELECT DISTINCT user_id FROM outreach_queue
 WHERE status IN ('pending', 'scheduled')
   AND (status = 'scheduled' OR scheduled_at IS NULL OR scheduled_at <= p_now)
 ORDER BY user_id
$$;

GRANT SELECT (user_id, status, scheduled_at) ON outreach_queue TO everreach_definer;
ALTER FUNCTION everreach_outreach_due_tenants(timestamptz) OWNER TO everreach_definer;
REVOKE ALL ON FUNCTION everreach_outreach_due_tenants(timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION everreach_outreach_due_tenants(timestamptz) TO everreach_app;
