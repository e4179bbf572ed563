-- Owns: publishing — platform_connections, content_adaptations, voice_profiles (with
-- set_default_voice_profile), published_posts, scheduled_posts (with schedule_status).
-- Seeds: 004, and 003 for scheduled_posts (DESIGN §3: one table, the union of both).
-- 004 gives no id defaults; gen_random_uuid() is used as everywhere else. 004 gives
-- its keys between these tables no ON DELETE; the choices below keep history when a
-- source goes away (see each key).

CREATE TABLE platform_connections (
    id UUID NOT NULL DEFAULT gen_random_uuid(),
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    platform VARCHAR(50) NOT NULL,
    platform_user_id VARCHAR(255) NOT NULL,
    -- ciphertext (AES-256-GCM at the application layer, 004 "Encryption")
    access_token TEXT NOT NULL,
    refresh_token TEXT,
    token_expires_at TIMESTAMPTZ,
    scope TEXT,
    profile_data JSONB,
    -- DESIGN §9: is_active alone cannot say why a connection stopped
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'expired', 'revoked', 'error')),
    status_reason TEXT,
    -- 004's flag, derived from status so the two never disagree
    is_active BOOLEAN GENERATED ALWAYS AS (status = 'active') STORED,
    created_at TIMESTAMPTZ DEFAULT NOW(),
    updated_at TIMESTAMPTZ DEFAULT NOW(),
    last_sync_at TIMESTAMPTZ,
    PRIMARY KEY (user_id, id)
);

COMMENT ON TABLE platform_connections IS 'Seed 004. Social accounts a user publishes to and syncs from (DESIGN §7); tokens are ciphertext; is_active is generated from status.';

CREATE INDEX idx_platform_connections_user_id ON platform_connections(user_id);
CREATE INDEX idx_platform_connections_platform ON platform_connections(platform);
CREATE UNIQUE INDEX idx_platform_connections_user_platform ON platform_connections(user_id, platform);

CREATE TRIGGER update_platform_connections_timestamp BEFORE UPDATE ON platform_connections
    FOR EACH ROW EXECUTE FUNCTION update_updated_at();

CREATE TABLE content_adaptations (
    id UUID NOT NULL DEFAULT gen_random_uuid(),
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    original_idea TEXT NOT NULL,
    idea_hash VARCHAR(64),
    adaptations JSONB NOT NULL,
    tone VARCHAR(50),
    target_audience VARCHAR(255),
    created_at TIMESTAMPTZ DEFAULT NOW(),
    updated_at TIMESTAMPTZ DEFAULT NOW(),
    last_used_at TIMESTAMPTZ,
    PRIMARY KEY (user_id, id)
);

COMMENT ON TABLE content_adaptations IS 'Seed 004. One idea adapted per platform (adaptations: platform -> variant).';

CREATE INDEX idx_content_adaptations_user_id ON content_adaptations(user_id);
CREATE INDEX idx_content_adaptations_created_at ON content_adaptations(created_at DESC);
CREATE INDEX idx_content_adaptations_idea_hash ON content_adaptations(idea_hash);

CREATE TRIGGER update_content_adaptations_timestamp BEFORE UPDATE ON content_adaptations
    FOR EACH ROW EXECUTE FUNCTION update_updated_at();

CREATE TABLE voice_profiles (
    id UUID NOT NULL DEFAULT gen_random_uuid(),
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name VARCHAR(255) NOT NULL,
    is_default BOOLEAN DEFAULT FALSE,
    characteristics JSONB NOT NULL,
    sample_posts TEXT[],
    created_at TIMESTAMPTZ DEFAULT NOW(),
    updated_at TIMESTAMPTZ DEFAULT NOW(),
    last_used_at TIMESTAMPTZ,
    PRIMARY KEY (user_id, id)
);

COMMENT ON TABLE voice_profiles IS 'Seed 004. Writing styles; exactly one default per user (set_default_voice_profile); the last one cannot be deleted (RLS).';

CREATE INDEX idx_voice_profiles_user_id ON voice_profiles(user_id);
CREATE UNIQUE INDEX idx_voice_profiles_user_default ON voice_profiles(user_id) WHERE is_default = TRUE;

CREATE TRIGGER update_voice_profiles_timestamp BEFORE UPDATE ON voice_profiles
    FOR EACH ROW EXECUTE FUNCTION update_updated_at();

-- 004's "Set Default Voice Profile": every user with a profile has exactly one default.
--  * a user's first profile becomes the default;
--  * making a profile the default demotes the previous one (before the row is written,
--    so the unique partial index never sees two);
--  * the default cannot be switched off directly, only replaced, or the user would
--    have none;
--  * deleting the default promotes the most recently used remaining profile;
--  * a statement may not delete a user's last profiles (the DELETE policy judges each
--    row against the others, so DELETE of all of them would pass it), unless the user
--    is gone: a user deletion's cascade removes every profile, and by the time this
--    runs the users row is deleted.
-- Runs as the caller: it touches only rows of the tenant whose row fired it.
CREATE FUNCTION set_default_voice_profile() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, public
    AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF NOT EXISTS (SELECT 1 FROM public.voice_profiles WHERE user_id = OLD.user_id) THEN
            IF EXISTS (SELECT 1 FROM public.users WHERE id = OLD.user_id) THEN
                RAISE EXCEPTION 'a user''s last voice profile cannot be deleted'
                    USING ERRCODE = 'check_violation', TABLE = 'voice_profiles';
            END IF;
        ELSIF OLD.is_default THEN
            UPDATE public.voice_profiles SET is_default = TRUE
             WHERE user_id = OLD.user_id
               AND id = (SELECT id FROM public.voice_profiles
                          WHERE user_id = OLD.user_id
                          ORDER BY last_used_at DESC NULLS LAST, created_at DESC, id
                          LIMIT 1)
               AND NOT EXISTS (SELECT 1 FROM public.voice_profiles
                                WHERE user_id = OLD.user_id AND is_default);
        END IF;
        RETURN OLD;
    END IF;

    IF TG_OP = 'INSERT' THEN
        NEW.is_default := COALESCE(NEW.is_default, FALSE) OR NOT EXISTS (
            SELECT 1 FROM public.voice_profiles WHERE user_id = NEW.user_id AND is_default);
    ELSIF OLD.is_default AND NOT COALESCE(NEW.is_default, FALSE) THEN
        -- the demotion below re-enters this trigger one level deeper; only a direct
        -- switch-off is refused
        IF pg_trigger_depth() = 1 THEN
            RAISE EXCEPTION 'the default voice profile cannot be unset; make another profile the default instead'
                USING ERRCODE = 'check_violation', TABLE = 'voice_profiles', COLUMN = 'is_default';
        END IF;
    END IF;

    IF NEW.is_default AND (TG_OP = 'INSERT' OR NOT OLD.is_default) THEN
        UPDATE public.voice_profiles SET is_default = FALSE
         WHERE user_id = NEW.user_id AND is_default AND id <> NEW.id;
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER set_default_voice_profile_trigger
    BEFORE INSERT OR UPDATE OF is_default ON voice_profiles
    FOR EACH ROW EXECUTE FUNCTION set_default_voice_profile();

CREATE TRIGGER promote_default_voice_profile_trigger
    AFTER DELETE ON voice_profiles
    FOR EACH ROW EXECUTE FUNCTION set_default_voice_profile();

CREATE TABLE published_posts (
    id UUID NOT NULL DEFAULT gen_random_uuid(),
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    adaptation_id UUID,
    platform_connection_id UUID,
    platform VARCHAR(50) NOT NULL,
    platform_post_id VARCHAR(255),
    -- 004 documents pending, published, failed, deleted, and indexes status =
    -- 'scheduled', so that value is allowed too. NOT NULL: the DELETE policy reads it.
    status VARCHAR(50) NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'scheduled', 'published', 'failed', 'deleted')),
    content TEXT NOT NULL,
    metadata JSONB,
    metrics JSONB,
    scheduled_for TIMESTAMPTZ,
    published_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ DEFAULT NOW(),
    updated_at TIMESTAMPTZ DEFAULT NOW(),
    PRIMARY KEY (user_id, id),
    -- a published post is history: it outlives its draft and its connection
    FOREIGN KEY (user_id, adaptation_id) REFERENCES content_adaptations(user_id, id) ON DELETE SET NULL (adaptation_id),
    FOREIGN KEY (user_id, platform_connection_id) REFERENCES platform_connections(user_id, id) ON DELETE SET NULL (platform_connection_id)
);

COMMENT ON TABLE published_posts IS 'Seed 004. Posts published (or being published) to a platform, with synced metrics; only unpublished ones can be deleted (RLS).';

CREATE INDEX idx_published_posts_user_id ON published_posts(user_id);
CREATE INDEX idx_published_posts_status ON published_posts(status);
CREATE INDEX idx_published_posts_platform ON published_posts(platform);
CREATE INDEX idx_published_posts_scheduled ON published_posts(scheduled_for) WHERE status = 'scheduled';
CREATE INDEX idx_published_posts_adaptation_id ON published_posts(adaptation_id);
CREATE INDEX idx_published_posts_connection ON published_posts(user_id, platform_connection_id);

CREATE TRIGGER update_published_posts_timestamp BEFORE UPDATE ON published_posts
    FOR EACH ROW EXECUTE FUNCTION update_updated_at();

-- DESIGN §9: the union of 003's and 004's statuses, created whole (ALTER TYPE ... ADD
-- VALUE cannot be used in the transaction that builds the partial index on it).
-- 'completed' is 004's word for 'published': accepted on input, stored as published.
CREATE TYPE schedule_status AS ENUM (
    'pending', 'scheduled', 'processing', 'published', 'completed', 'failed', 'cancelled');

CREATE TABLE scheduled_posts (
    id UUID NOT NULL DEFAULT gen_random_uuid(),
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    -- content sources: 003 content, a 004 adaptation, or 004's snapshot text
    content_id UUID,
    campaign_id UUID,
    adaptation_id UUID,
    content TEXT,
    platform_connection_id UUID,
    platform VARCHAR(50) NOT NULL,
    status schedule_status NOT NULL DEFAULT 'scheduled',
    scheduled_for TIMESTAMPTZ NOT NULL,
    -- 003's name for 004's scheduled_for
    scheduled_time TIMESTAMPTZ GENERATED ALWAYS AS (scheduled_for) STORED,
    timezone VARCHAR(50) DEFAULT 'UTC',
    retry_count INTEGER DEFAULT 0,
    last_error TEXT,
    -- 003's name for 004's last_error
    error_message TEXT GENERATED ALWAYS AS (last_error) STORED,
    published_at TIMESTAMPTZ,
    published_post_id UUID,
    created_at TIMESTAMPTZ DEFAULT NOW(),
    updated_at TIMESTAMPTZ DEFAULT NOW(),
    PRIMARY KEY (user_id, id),
    CONSTRAINT scheduled_posts_content_source
        CHECK (content_id IS NOT NULL OR adaptation_id IS NOT NULL OR content IS NOT NULL),
    -- a 003 post without its content has nothing to publish
    FOREIGN KEY (user_id, content_id) REFERENCES content(user_id, id) ON DELETE CASCADE,
    FOREIGN KEY (user_id, campaign_id) REFERENCES campaigns(user_id, id) ON DELETE SET NULL (campaign_id),
    -- the snapshot in content stays; the CHECK above still demands a source
    FOREIGN KEY (user_id, adaptation_id) REFERENCES content_adaptations(user_id, id) ON DELETE SET NULL (adaptation_id),
    -- without a connection the post waits (status pending) until one is chosen
    FOREIGN KEY (user_id, platform_connection_id) REFERENCES platform_connections(user_id, id) ON DELETE SET NULL (platform_connection_id),
    FOREIGN KEY (user_id, published_post_id) REFERENCES published_posts(user_id, id) ON DELETE SET NULL (published_post_id)
);

COMMENT ON TABLE scheduled_posts IS 'Seeds 003 + 004 merged (DESIGN §3). The publishing queue. Users change only pending/scheduled posts; the job runner (app.actor = worker) moves them on.';
COMMENT ON COLUMN scheduled_posts.scheduled_time IS 'Seed 003 name; generated from scheduled_for (write scheduled_for).';
COMMENT ON COLUMN scheduled_posts.error_message IS 'Seed 003 name; generated from last_error (write last_error).';

CREATE INDEX idx_scheduled_posts_content ON scheduled_posts(content_id);
CREATE INDEX idx_scheduled_posts_time ON scheduled_posts(scheduled_time);
CREATE INDEX idx_scheduled_posts_status ON scheduled_posts(status);
CREATE INDEX idx_scheduled_posts_user_id ON scheduled_posts(user_id);
CREATE INDEX idx_scheduled_posts_scheduled_for ON scheduled_posts(scheduled_for);
CREATE INDEX idx_scheduled_posts_ready ON scheduled_posts(status, scheduled_for) WHERE status = 'scheduled';
CREATE INDEX idx_scheduled_posts_campaign ON scheduled_posts(user_id, campaign_id);
CREATE INDEX idx_scheduled_posts_adaptation ON scheduled_posts(user_id, adaptation_id);
CREATE INDEX idx_scheduled_posts_connection ON scheduled_posts(user_id, platform_connection_id);
CREATE INDEX idx_scheduled_posts_published_post ON scheduled_posts(user_id, published_post_id);

-- DESIGN §9: 'completed' is stored as 'published'. Before the RLS WITH CHECK, which
-- therefore only ever sees the stored value.
CREATE FUNCTION normalize_schedule_status() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    IF NEW.status = 'completed' THEN
        NEW.status := 'published';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER normalize_scheduled_posts_status
    BEFORE INSERT OR UPDATE OF status ON scheduled_posts
    FOR EACH ROW EXECUTE FUNCTION normalize_schedule_status();

CREATE TRIGGER update_scheduled_posts_timestamp BEFORE UPDATE ON scheduled_posts
    FOR EACH ROW EXECUTE FUNCTION update_updated_at();
