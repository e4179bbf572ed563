-- Owns: 003's content workflow — content, user_profiles, content_performance
-- (partitioned by month), campaigns — plus ml_models, audit_log and their enums.
-- Seed: 003. DESIGN §1 tenant keys (003's keys to users gain ON DELETE CASCADE);
-- §8 enums before the tables that use them; §9 content_performance partitioned on
-- recorded_at, user_profiles one per user, model_type also 'embedding'.

CREATE TYPE content_type AS ENUM ('blog_post', 'social_post', 'email', 'ad_copy', 'image', 'video');
CREATE TYPE content_status AS ENUM ('draft', 'review', 'approved', 'published', 'archived');
CREATE TYPE campaign_status AS ENUM ('draft', 'active', 'paused', 'completed', 'cancelled');
CREATE TYPE model_type AS ENUM ('content_generation', 'recommendation', 'engagement_prediction', 'optimization', 'embedding');

CREATE TABLE content (
    id UUID NOT NULL DEFAULT gen_random_uuid(),
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    -- must be the author's own company: enforced by the RLS policy's WITH CHECK
    company_id UUID NOT NULL REFERENCES companies(id),
    title VARCHAR(500),
    content_text TEXT,
    content_type content_type NOT NULL,
    platform VARCHAR(50),
    status content_status DEFAULT 'draft',
    metadata JSONB DEFAULT '{}',
    brand_guidelines_applied JSONB DEFAULT '{}',
    ai_model_used VARCHAR(100),
    generation_prompt TEXT,
    quality_score DECIMAL(3,2),
    created_at TIMESTAMPTZ DEFAULT NOW(),
    updated_at TIMESTAMPTZ DEFAULT NOW(),
    published_at TIMESTAMPTZ,
    scheduled_for TIMESTAMPTZ,
    PRIMARY KEY (user_id, id)
);

COMMENT ON TABLE content IS 'Seed 003. Generated content with a review workflow (draft, review, approved, published, archived).';

CREATE INDEX idx_content_user ON content(user_id);
CREATE INDEX idx_content_company ON content(company_id);
CREATE INDEX idx_content_type ON content(content_type);
CREATE INDEX idx_content_status ON content(status);
CREATE INDEX idx_content_created ON content(created_at);
CREATE INDEX idx_content_user_type_created ON content(user_id, content_type, created_at);
CREATE INDEX idx_published_content ON content(id) WHERE status = 'published';

CREATE TRIGGER update_content_timestamp BEFORE UPDATE ON content
    FOR EACH ROW EXECUTE FUNCTION update_updated_at();

CREATE TABLE user_profiles (
    id UUID NOT NULL DEFAULT gen_random_uuid(),
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    interests TEXT[],
    preferred_topics TEXT[],
    content_preferences JSONB DEFAULT '{}',
    engagement_patterns JSONB DEFAULT '{}',
    behavioral_data JSONB DEFAULT '{}',
    last_activity_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ DEFAULT NOW(),
    updated_at TIMESTAMPTZ DEFAULT NOW(),
    PRIMARY KEY (user_id, id),
    -- 003's diagram says Users 1-1 User_Profiles (DESIGN §9)
    UNIQUE (user_id)
);

COMMENT ON TABLE user_profiles IS 'Seed 003. Interests and behaviour of one user (one row per user).';

CREATE INDEX idx_user_profiles_user ON user_profiles(user_id);
CREATE INDEX idx_user_profiles_activity ON user_profiles(last_activity_at);

CREATE TRIGGER update_user_profiles_timestamp BEFORE UPDATE ON user_profiles
    FOR EACH ROW EXECUTE FUNCTION update_updated_at();

-- 003 creates content_performance_y2024m01 as a partition but never declares the
-- table partitioned; DESIGN §9 partitions it by month on recorded_at, so the key and
-- the unique key hold recorded_at.
CREATE TABLE content_performance (
    id UUID NOT NULL DEFAULT gen_random_uuid(),
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    content_id UUID NOT NULL,
    platform VARCHAR(50) NOT NULL,
    views INTEGER DEFAULT 0,
    likes INTEGER DEFAULT 0,
    shares INTEGER DEFAULT 0,
    comments INTEGER DEFAULT 0,
    clicks INTEGER DEFAULT 0,
    reach INTEGER DEFAULT 0,
    impressions INTEGER DEFAULT 0,
    engagement_rate DECIMAL(5,4) DEFAULT 0,
    ctr DECIMAL(5,4) DEFAULT 0,
    recorded_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    PRIMARY KEY (user_id, id, recorded_at),
    UNIQUE (user_id, content_id, platform, recorded_at),
    -- 003 gives no ON DELETE; metrics of deleted content go with it
    FOREIGN KEY (user_id, content_id) REFERENCES content(user_id, id) ON DELETE CASCADE
) PARTITION BY RANGE (recorded_at);

COMMENT ON TABLE content_performance IS 'Seed 003. Per-platform metric snapshots of 003 content, derived from content_metrics (DESIGN §6); partitioned by month on recorded_at (content_performance_YYYY_MM).';

CREATE INDEX idx_performance_content ON content_performance(content_id);
CREATE INDEX idx_performance_platform ON content_performance(platform);
CREATE INDEX idx_performance_recorded ON content_performance(recorded_at);
CREATE INDEX idx_performance_content_platform_time ON content_performance(content_id, platform, recorded_at);

CREATE TABLE campaigns (
    id UUID NOT NULL DEFAULT gen_random_uuid(),
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    -- must be the owner's own company: enforced by the RLS policy's WITH CHECK
    company_id UUID NOT NULL REFERENCES companies(id),
    name VARCHAR(255) NOT NULL,
    description TEXT,
    objectives TEXT[],
    target_audience JSONB DEFAULT '{}',
    budget_allocated DECIMAL(10,2),
    budget_spent DECIMAL(10,2) DEFAULT 0,
    start_date DATE,
    end_date DATE,
    status campaign_status DEFAULT 'draft',
    created_at TIMESTAMPTZ DEFAULT NOW(),
    updated_at TIMESTAMPTZ DEFAULT NOW(),
    PRIMARY KEY (user_id, id)
);

COMMENT ON TABLE campaigns IS 'Seed 003. Marketing campaigns; scheduled_posts may belong to one.';

CREATE INDEX idx_campaigns_user ON campaigns(user_id);
CREATE INDEX idx_campaigns_company ON campaigns(company_id);
CREATE INDEX idx_campaigns_status ON campaigns(status);

CREATE TRIGGER update_campaigns_timestamp BEFORE UPDATE ON campaigns
    FOR EACH ROW EXECUTE FUNCTION update_updated_at();

-- Not a tenant table: the registry of models every tenant's requests use.
CREATE TABLE ml_models (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    name VARCHAR(255) NOT NULL,
    model_type model_type NOT NULL,
    version VARCHAR(50) NOT NULL,
    config JSONB DEFAULT '{}',
    performance_metrics JSONB DEFAULT '{}',
    training_data_info JSONB DEFAULT '{}',
    is_active BOOLEAN DEFAULT false,
    created_at TIMESTAMPTZ DEFAULT NOW(),
    updated_at TIMESTAMPTZ DEFAULT NOW(),
    UNIQUE (name, version)
);

COMMENT ON TABLE ml_models IS 'Seed 003. ML model registry; model_type also embedding (DESIGN §9). Not a tenant table.';

CREATE INDEX idx_ml_models_type ON ml_models(model_type);
CREATE INDEX idx_ml_models_active ON ml_models(is_active);

CREATE TRIGGER update_ml_models_timestamp BEFORE UPDATE ON ml_models
    FOR EACH ROW EXECUTE FUNCTION update_updated_at();

-- Not a tenant table: user_id names the actor and has no key, so the trail outlives
-- the rows (and users) it describes. The application may append but not read it.
CREATE TABLE audit_log (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    table_name VARCHAR(100) NOT NULL,
    operation VARCHAR(10) NOT NULL,
    old_values JSONB,
    new_values JSONB,
    user_id UUID,
    timestamp TIMESTAMPTZ DEFAULT NOW()
);

COMMENT ON TABLE audit_log IS 'Seed 003. Append-only audit trail. Not a tenant table; everreach_app may only INSERT.';
