-- Owns: the queues jobs may be sent to (pg-boss's createQueue). A send to a queue
-- that was never created is refused with a clear error instead of waiting forever
-- for a worker that does not exist. Queues are created by the code that owns them:
-- the runner for its handlers, a schedule for its queue, an event subscription for
-- its queue. Each queue's completion queue (`__state__completed__<name>`, where
-- `on_complete` jobs report) is created with it.

CREATE TABLE job_queues (
    name VARCHAR(100) PRIMARY KEY,
    created_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
);
COMMENT ON TABLE job_queues IS 'Queues that accept jobs; sending to any other name is an error.';

-- Queues that jobs already name (none on a fresh install) stay valid.
INSERT INTO job_queues (name) SELECT DISTINCT name FROM jobs ON CONFLICT DO NOTHING;
INSERT INTO job_queues (name) SELECT DISTINCT queue FROM event_subscriptions ON CONFLICT DO NOTHING;
INSERT INTO job_queues (name) SELECT DISTINCT name FROM job_schedules ON CONFLICT DO NOTHING;
