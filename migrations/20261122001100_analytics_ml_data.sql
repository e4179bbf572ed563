-- Owns: analytics.events, analytics.performance_metrics (003's ClickHouse tables) and
-- ml_data.content_embeddings, ml_data.user_preference_embeddings (003's Pinecone
-- indexes).
-- Seed: 003. DESIGN §4: ClickHouse is the scale-out target, not the default, so the
-- tables live in Postgres with ClickHouse types mapped (UUID -> uuid,
-- LowCardinality(String)/String -> text, DateTime64(3) -> timestamptz(3),
-- Map(String, String) -> jsonb, IPv4 -> inet, Float64 -> double precision), both
-- partitioned by month like toYYYYMM(timestamp). DESIGN §1: they are tenant tables
-- (user_id added to performance_metrics, which also gains an id). DESIGN §9: the
-- vector indexes become tenant tables in ml_data.

CREATE TABLE analytics.events (
    event_id UUID NOT NULL DEFAULT gen_random_uuid(),
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    -- no key: ClickHouse keeps none, and the event outlives what it describes
    content_id UUID,
    event_type TEXT NOT NULL,
    platform TEXT,
    "timestamp" TIMESTAMPTZ(3) NOT NULL DEFAULT NOW(),
    properties JSONB DEFAULT '{}',
    session_id TEXT,
    ip_address INET,
    user_agent TEXT,
    PRIMARY KEY (user_id, event_id, "timestamp")
) PARTITION BY RANGE ("timestamp");

COMMENT ON TABLE analytics.events IS 'Seed 003 (ClickHouse events). Product analytics events; partitioned by month (analytics.events_YYYY_MM).';

-- ClickHouse's ORDER BY (timestamp, user_id, event_type), tenant first as every query
-- here filters by tenant.
CREATE INDEX idx_analytics_events_user_time ON analytics.events (user_id, "timestamp", event_type);

CREATE TABLE analytics.performance_metrics (
    id UUID NOT NULL DEFAULT gen_random_uuid(),
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    content_id UUID,
    platform TEXT,
    metric_name TEXT NOT NULL,
    metric_value DOUBLE PRECISION NOT NULL,
    "timestamp" TIMESTAMPTZ(3) NOT NULL DEFAULT NOW(),
    dimensions JSONB DEFAULT '{}',
    PRIMARY KEY (user_id, id, "timestamp")
) PARTITION BY RANGE ("timestamp");

COMMENT ON TABLE analytics.performance_metrics IS 'Seed 003 (ClickHouse performance_metrics). Metric points per content and platform; partitioned by month (analytics.performance_metrics_YYYY_MM).';

-- ClickHouse's ORDER BY (timestamp, content_id, platform, metric_name), tenant first.
CREATE INDEX idx_analytics_performance_metrics_content
    ON analytics.performance_metrics (user_id, content_id, platform, metric_name, "timestamp");

-- 003's Pinecone index content-embeddings (1536 dimensions, cosine) with its metadata
-- as columns.
CREATE TABLE ml_data.content_embeddings (
    id UUID NOT NULL DEFAULT gen_random_uuid(),
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    content_id UUID NOT NULL,
    company_id UUID REFERENCES companies(id),
    content_type content_type,
    platform TEXT,
    topics TEXT[],
    engagement_score DOUBLE PRECISION,
    quality_score DOUBLE PRECISION,
    embedding vector(1536) NOT NULL,
    created_at TIMESTAMPTZ DEFAULT NOW(),
    updated_at TIMESTAMPTZ DEFAULT NOW(),
    PRIMARY KEY (user_id, id),
    -- one vector per piece of content, replaced on re-embedding
    UNIQUE (user_id, content_id),
    FOREIGN KEY (user_id, content_id) REFERENCES content(user_id, id) ON DELETE CASCADE
);

COMMENT ON TABLE ml_data.content_embeddings IS 'Seed 003 (Pinecone content-embeddings). One embedding per 003 content row, cosine metric.';

-- HNSW rather than IVFFlat: it needs no training data, and these tables start empty.
CREATE INDEX idx_content_embeddings_embedding
    ON ml_data.content_embeddings USING hnsw (embedding vector_cosine_ops);

CREATE TRIGGER update_content_embeddings_timestamp BEFORE UPDATE ON ml_data.content_embeddings
    FOR EACH ROW EXECUTE FUNCTION update_updated_at();

-- 003's Pinecone index user-preferences (1536 dimensions, cosine).
CREATE TABLE ml_data.user_preference_embeddings (
    id UUID NOT NULL DEFAULT gen_random_uuid(),
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    preference_type TEXT NOT NULL CHECK (preference_type IN ('interests', 'topics', 'style')),
    confidence_score DOUBLE PRECISION,
    embedding vector(1536) NOT NULL,
    created_at TIMESTAMPTZ DEFAULT NOW(),
    updated_at TIMESTAMPTZ DEFAULT NOW(),
    PRIMARY KEY (user_id, id),
    -- one vector per kind of preference, replaced on recompute
    UNIQUE (user_id, preference_type)
);

COMMENT ON TABLE ml_data.user_preference_embeddings IS 'Seed 003 (Pinecone user-preferences). One embedding per user and preference type, cosine metric.';

CREATE INDEX idx_user_preference_embeddings_embedding
    ON ml_data.user_preference_embeddings USING hnsw (embedding vector_cosine_ops);

CREATE TRIGGER update_user_preference_embeddings_timestamp BEFORE UPDATE ON ml_data.user_preference_embeddings
    FOR EACH ROW EXECUTE FUNCTION update_updated_at();
