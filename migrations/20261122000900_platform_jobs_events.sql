-- Owns: jobs, the domain event store public.events (partitioned by month) with
-- log_event(), user_analytics, cache.
-- Seed: 002. DESIGN §4: public.events is 002's event store, distinct from 003's
-- analytics.events. DESIGN "Jobs": pg-boss semantics, fetched with SKIP LOCKED.

-- Not a tenant table: one queue for every tenant. A job acting for a tenant names it
-- in user_id (DESIGN §1: anything that finds a row by id alone carries user_id), and
-- its handler runs in that tenant's transaction.
--
-- Partitioned by state: live jobs (created, retry, active) in jobs_queue, finished
-- ones (completed, failed, cancelled, expired) in jobs_history. Fetching reads only
-- jobs_queue, so history kept for keep_until never slows the queue (pg-boss keeps
-- both in one table and its fetch slows about tenfold with a few hundred thousand
-- finished jobs). Finishing a job moves its row; the PRIMARY KEY holds the partition
-- key, as it must.
CREATE TABLE jobs (
    id UUID NOT NULL DEFAULT gen_random_uuid(),
    name VARCHAR(100) NOT NULL,
    data JSONB,
    priority INTEGER DEFAULT 0,
    retry_limit INTEGER DEFAULT 3,
    retry_count INTEGER DEFAULT 0,
    retry_delay INTEGER DEFAULT 0,
    retry_backoff BOOLEAN DEFAULT TRUE,
    start_after TIMESTAMPTZ DEFAULT NOW(),
    started_on TIMESTAMPTZ,
    singleton_key VARCHAR(100),
    expire_in INTERVAL DEFAULT '15 minutes',
    created_on TIMESTAMPTZ DEFAULT NOW(),
    completed_on TIMESTAMPTZ,
    keep_until TIMESTAMPTZ DEFAULT NOW() + INTERVAL '14 days',
    on_complete BOOLEAN DEFAULT FALSE,
    output JSONB,
    -- pg-boss's states (DESIGN "Jobs")
    state VARCHAR(20) NOT NULL DEFAULT 'created'
        CHECK (state IN ('created', 'retry', 'active', 'completed', 'expired', 'cancelled', 'failed')),
    -- the tenant the job acts for; NULL for installation-wide work (upkeep)
    user_id UUID REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (id, state)
) PARTITION BY LIST (state);

CREATE TABLE jobs_queue PARTITION OF jobs FOR VALUES IN ('created', 'retry', 'active')
    WITH (fillfactor = 70);
CREATE TABLE jobs_history PARTITION OF jobs FOR VALUES IN ('completed', 'expired', 'cancelled', 'failed');

COMMENT ON TABLE jobs IS 'Seed 002. Background jobs with pg-boss semantics. Not a tenant table. Partitions: jobs_queue (live), jobs_history (finished).';

CREATE INDEX idx_jobs_name_state ON jobs(name, state);
-- 002's index; only non-NULL keys are ever looked up, so NULLs (most jobs) are left out.
CREATE INDEX idx_jobs_singleton ON jobs(singleton_key) WHERE singleton_key IS NOT NULL;
CREATE INDEX idx_jobs_start_after ON jobs(start_after);
-- The fetch path: next runnable job of a queue in priority order (pg-boss's order).
CREATE INDEX idx_jobs_fetch ON jobs_queue(name, priority DESC, created_on, id)
    WHERE state IN ('created', 'retry');
-- Expiry: active jobs past their expire_in.
CREATE INDEX idx_jobs_active ON jobs_queue(started_on) WHERE state = 'active';
-- pg-boss singletons: at most one live job per (name, singleton_key). Live jobs are
-- exactly jobs_queue, so the unique index lives there.
CREATE UNIQUE INDEX idx_jobs_singleton_live ON jobs_queue(name, singleton_key)
    WHERE singleton_key IS NOT NULL;
-- Purging finished jobs past keep_until.
CREATE INDEX idx_jobs_history_keep ON jobs_history(keep_until);

-- Partitioned by month on created_at (002); the primary key holds the partition key.
CREATE TABLE events (
    id UUID NOT NULL DEFAULT gen_random_uuid(),
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    entity_type VARCHAR(50) NOT NULL,
    entity_id UUID NOT NULL,
    event_type VARCHAR(100) NOT NULL,
    payload JSONB NOT NULL,
    metadata JSONB DEFAULT '{}',
    created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    PRIMARY KEY (user_id, id, created_at)
) PARTITION BY RANGE (created_at);

COMMENT ON TABLE events IS 'Seed 002. Domain event store, written through log_event() and announced on NOTIFY channel events; partitioned by month on created_at (events_YYYY_MM).';

CREATE INDEX idx_events_entity ON events(entity_type, entity_id);
CREATE INDEX idx_events_type ON events(event_type);
CREATE INDEX idx_events_user ON events(user_id);

-- 002's function. The table is schema-qualified and the search_path pinned because
-- analytics.events has the same name.
CREATE FUNCTION log_event(
    p_user_id UUID,
    p_entity_type VARCHAR,
    p_entity_id UUID,
    p_event_type VARCHAR,
    p_payload JSONB,
    p_metadata JSONB DEFAULT '{}'
) RETURNS UUID
    LANGUAGE plpgsql
    SET search_path = pg_catalog, public
    AS $$
DECLARE
    v_event_id UUID;
BEGIN
    INSERT INTO public.events (user_id, entity_type, entity_id, event_type, payload, metadata)
    VALUES (p_user_id, p_entity_type, p_entity_id, p_event_type, p_payload, p_metadata)
    RETURNING id INTO v_event_id;

    -- Notify listeners (002's payload, plus the tenant, so a process can route the
    -- event to that user's live streams without reading it back first)
    PERFORM pg_notify('events', json_build_object(
        'id', v_event_id,
        'type', p_event_type,
        'entity_id', p_entity_id,
        'user_id', p_user_id
    )::text);

    RETURN v_event_id;
END;
$$;

COMMENT ON FUNCTION log_event(UUID, VARCHAR, UUID, VARCHAR, JSONB, JSONB) IS
    'Seed 002. Appends to public.events and NOTIFYs channel events with {id, type, entity_id}. Runs as the caller, so RLS requires p_user_id = current_user_id().';

CREATE TABLE user_analytics (
    id UUID NOT NULL DEFAULT gen_random_uuid(),
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    date DATE NOT NULL,
    emails_received INTEGER DEFAULT 0,
    emails_sent INTEGER DEFAULT 0,
    contacts_added INTEGER DEFAULT 0,
    ai_queries INTEGER DEFAULT 0,
    ai_tokens_used INTEGER DEFAULT 0,
    active_time_seconds INTEGER DEFAULT 0,
    created_at TIMESTAMPTZ DEFAULT NOW(),
    PRIMARY KEY (user_id, id)
);

COMMENT ON TABLE user_analytics IS 'Seed 002. Daily usage counters per user.';

CREATE UNIQUE INDEX idx_user_analytics_unique ON user_analytics(user_id, date);

-- Not a tenant table: results of expensive operations under application-chosen keys.
CREATE TABLE cache (
    key VARCHAR(255) PRIMARY KEY,
    value JSONB NOT NULL,
    expires_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ DEFAULT NOW()
);

COMMENT ON TABLE cache IS 'Seed 002. Cache of expensive results. Not a tenant table: a key that holds tenant data must include the tenant id.';

CREATE INDEX idx_cache_expires ON cache(expires_at);
