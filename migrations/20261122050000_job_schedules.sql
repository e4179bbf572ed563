-- Owns: recurring jobs (cron schedules). A schedule sends one job to its queue per
-- slot; `last_slot` is claimed with a conditional UPDATE in the same transaction as
-- the send, so with several everreach processes each slot fires exactly once.
-- Installation-wide (maintenance); not a tenant table.

CREATE TABLE job_schedules (
    -- the queue the schedule sends to
    name VARCHAR(100) PRIMARY KEY,
    -- five-field cron expression, e.g. '0 3 * * *'
    cron TEXT NOT NULL,
    -- IANA zone whose wall clock the expression follows
    timezone TEXT NOT NULL DEFAULT 'UTC',
    data JSONB,
    -- the last slot that fired (NULL: none yet)
    last_slot TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
);
COMMENT ON TABLE job_schedules IS 'Cron schedules of recurring jobs; each slot fires once across all processes.';

CREATE TRIGGER update_job_schedules_timestamp BEFORE UPDATE ON job_schedules
    FOR EACH ROW EXECUTE FUNCTION update_updated_at();
