-- Owns: the content graph — content_items, content_experiments, content_variants,
-- content_metrics, content_rollups.
-- Seed: 000. DESIGN §6: the canonical record of what exists and where it was posted;
-- 003's content and 004's adaptations create content_variants when published.
-- DESIGN §1 tenant keys as in the people graph.

CREATE TABLE content_items (
    id UUID NOT NULL DEFAULT gen_random_uuid(),
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    slug TEXT,
    type TEXT CHECK (type IN ('video','article','audio','image','carousel')),
    source_url TEXT,
    title TEXT,
    description TEXT,
    created_by UUID,
    created_at TIMESTAMPTZ DEFAULT NOW(),
    updated_at TIMESTAMPTZ DEFAULT NOW(),
    PRIMARY KEY (user_id, id),
    -- 000's slug UNIQUE, per tenant
    UNIQUE (user_id, slug)
);

COMMENT ON TABLE content_items IS 'Seed 000. Canonical content pieces, the single source of truth (DESIGN §6).';

CREATE INDEX idx_content_items_created ON content_items(created_at DESC);
CREATE INDEX idx_content_items_creator ON content_items(created_by);
CREATE INDEX idx_content_title_search ON content_items USING GIN (to_tsvector('english', title));
CREATE INDEX idx_content_desc_search ON content_items USING GIN (to_tsvector('english', description));

CREATE TRIGGER update_content_items_timestamp BEFORE UPDATE ON content_items
    FOR EACH ROW EXECUTE FUNCTION update_updated_at();

-- Created before content_variants so that a variant's experiment_id can be a key.
CREATE TABLE content_experiments (
    id UUID NOT NULL DEFAULT gen_random_uuid(),
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    content_id UUID,
    name TEXT NOT NULL,
    hypothesis TEXT,
    primary_metric TEXT,
    status TEXT CHECK (status IN ('draft','running','completed','cancelled')) DEFAULT 'draft',
    created_at TIMESTAMPTZ DEFAULT NOW(),
    started_at TIMESTAMPTZ,
    completed_at TIMESTAMPTZ,
    PRIMARY KEY (user_id, id),
    FOREIGN KEY (user_id, content_id) REFERENCES content_items(user_id, id) ON DELETE CASCADE
);

COMMENT ON TABLE content_experiments IS 'Seed 000. A/B and multivariate tests of one content item.';

CREATE INDEX idx_content_experiments_content ON content_experiments(user_id, content_id);

CREATE TABLE content_variants (
    id UUID NOT NULL DEFAULT gen_random_uuid(),
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    content_id UUID,
    platform TEXT CHECK (platform IN (
        'instagram','tiktok','youtube','linkedin','twitter','facebook',
        'pinterest','threads','bluesky','other'
    )),
    platform_post_id TEXT,
    platform_post_url TEXT,
    title TEXT,
    description TEXT,
    thumbnail_url TEXT,
    scheduled_at TIMESTAMPTZ,
    published_at TIMESTAMPTZ,
    is_paid BOOLEAN DEFAULT FALSE,
    experiment_id UUID,
    variant_label TEXT,
    created_at TIMESTAMPTZ DEFAULT NOW(),
    PRIMARY KEY (user_id, id),
    FOREIGN KEY (user_id, content_id) REFERENCES content_items(user_id, id) ON DELETE CASCADE,
    -- 000 leaves experiment_id without a key; with one, a variant cannot name another
    -- tenant's experiment, and ending an experiment's life keeps the variant
    FOREIGN KEY (user_id, experiment_id) REFERENCES content_experiments(user_id, id) ON DELETE SET NULL (experiment_id)
);

COMMENT ON TABLE content_variants IS 'Seed 000. One platform-specific execution of a content item (also created when 003 content or a 004 adaptation is published).';

CREATE INDEX idx_variants_content ON content_variants(content_id);
CREATE INDEX idx_variants_platform ON content_variants(platform, published_at DESC);
CREATE INDEX idx_variants_experiment ON content_variants(experiment_id);
CREATE INDEX idx_scheduled_variants ON content_variants(scheduled_at) WHERE published_at IS NULL;

CREATE TABLE content_metrics (
    id BIGSERIAL NOT NULL,
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    variant_id UUID,
    snapshot_at TIMESTAMPTZ DEFAULT NOW(),
    views BIGINT,
    impressions BIGINT,
    reach BIGINT,
    likes BIGINT,
    comments BIGINT,
    shares BIGINT,
    saves BIGINT,
    clicks BIGINT,
    watch_time_seconds BIGINT,
    sentiment_score NUMERIC CHECK (sentiment_score >= -1 AND sentiment_score <= 1),
    traffic_type TEXT CHECK (traffic_type IN ('organic','paid')) DEFAULT 'organic',
    metadata JSONB,
    PRIMARY KEY (user_id, id),
    FOREIGN KEY (user_id, variant_id) REFERENCES content_variants(user_id, id) ON DELETE CASCADE
);

COMMENT ON TABLE content_metrics IS 'Seed 000. Time-series metric snapshots per variant; metrics land here once and are derived elsewhere (DESIGN §6).';

CREATE INDEX idx_metrics_variant ON content_metrics(variant_id, snapshot_at DESC);
CREATE INDEX idx_metrics_traffic ON content_metrics(traffic_type);

CREATE TABLE content_rollups (
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    content_id UUID NOT NULL,
    total_views BIGINT,
    total_impressions BIGINT,
    total_likes BIGINT,
    total_comments BIGINT,
    total_shares BIGINT,
    total_saves BIGINT,
    total_clicks BIGINT,
    avg_watch_time_seconds NUMERIC,
    global_sentiment NUMERIC,
    best_platform TEXT,
    last_updated_at TIMESTAMPTZ DEFAULT NOW(),
    PRIMARY KEY (user_id, content_id),
    FOREIGN KEY (user_id, content_id) REFERENCES content_items(user_id, id) ON DELETE CASCADE
);

COMMENT ON TABLE content_rollups IS 'Seed 000. Nightly aggregate of content_metrics per content item.';
