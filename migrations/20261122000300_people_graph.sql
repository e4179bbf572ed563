-- Owns: the people graph — people, identities, person_events, person_insights,
-- segments, segment_members, segment_insights, outbound_messages.
-- Seed: 000 (written single-tenant). DESIGN §1 adds the tenant key: user_id on every
-- table, user_id first in every primary key and UNIQUE, and every key between these
-- tables carries user_id, because foreign-key checks bypass RLS and a plain
-- (person_id) key would let one tenant point at another tenant's person.

CREATE TABLE people (
    id UUID NOT NULL DEFAULT gen_random_uuid(),
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    full_name TEXT,
    primary_email TEXT,
    company TEXT,
    role TEXT,
    created_at TIMESTAMPTZ DEFAULT NOW(),
    updated_at TIMESTAMPTZ DEFAULT NOW(),
    PRIMARY KEY (user_id, id)
);

COMMENT ON TABLE people IS 'Seed 000. One row per human a tenant knows; the hub that channel records (identities, instagram_contacts, contacts) link to (DESIGN §5).';

CREATE TRIGGER update_people_timestamp BEFORE UPDATE ON people
    FOR EACH ROW EXECUTE FUNCTION update_updated_at();

CREATE TABLE identities (
    id BIGSERIAL NOT NULL,
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    person_id UUID,
    channel TEXT CHECK (channel IN ('email','instagram','linkedin','twitter','facebook','tiktok','youtube','threads','bluesky','pinterest')),
    handle TEXT NOT NULL,
    extra JSONB,
    is_verified BOOLEAN DEFAULT FALSE,
    first_seen_at TIMESTAMPTZ DEFAULT NOW(),
    last_seen_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ DEFAULT NOW(),
    PRIMARY KEY (user_id, id),
    -- 000's UNIQUE(channel, handle), per tenant: two tenants may know the same @handle
    UNIQUE (user_id, channel, handle),
    FOREIGN KEY (user_id, person_id) REFERENCES people(user_id, id) ON DELETE CASCADE
);

COMMENT ON TABLE identities IS 'Seed 000. Every way a person is seen on a channel; (user_id, channel, handle) resolves to one person.';

CREATE INDEX idx_identities_person ON identities(person_id);
CREATE INDEX idx_identities_channel ON identities(channel);

CREATE TABLE person_events (
    id BIGSERIAL NOT NULL,
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    person_id UUID,
    -- open lists (000 comments, DESIGN §5 adds email_received/email_sent), so no CHECK
    channel TEXT NOT NULL,
    event_type TEXT NOT NULL,
    platform_id TEXT,
    content_excerpt TEXT,
    sentiment NUMERIC CHECK (sentiment >= -1 AND sentiment <= 1),
    traffic_type TEXT CHECK (traffic_type IN ('organic','paid')) DEFAULT 'organic',
    metadata JSONB,
    occurred_at TIMESTAMPTZ DEFAULT NOW(),
    PRIMARY KEY (user_id, id),
    FOREIGN KEY (user_id, person_id) REFERENCES people(user_id, id) ON DELETE CASCADE
);

COMMENT ON TABLE person_events IS 'Seed 000. The unified interaction stream; Instagram DMs and linked e-mails also land here (DESIGN §5, §9).';

CREATE INDEX idx_person_events_person ON person_events(person_id, occurred_at DESC);
CREATE INDEX idx_person_events_type ON person_events(event_type, occurred_at DESC);
CREATE INDEX idx_person_events_traffic ON person_events(traffic_type);
-- 000 names these idx_events_*, though they are on person_events
CREATE INDEX idx_events_channel_occurred ON person_events(channel, occurred_at DESC);
CREATE INDEX idx_events_person_channel ON person_events(person_id, channel, occurred_at DESC);

CREATE TABLE person_insights (
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    person_id UUID NOT NULL,
    interests JSONB,
    tone_preferences JSONB,
    channel_preferences JSONB,
    avg_reply_time INTERVAL,
    activity_state TEXT CHECK (activity_state IN ('active','warming','cool','dormant')),
    last_active_at TIMESTAMPTZ,
    seasonality JSONB,
    warmth_score NUMERIC,
    updated_at TIMESTAMPTZ DEFAULT NOW(),
    PRIMARY KEY (user_id, person_id),
    FOREIGN KEY (user_id, person_id) REFERENCES people(user_id, id) ON DELETE CASCADE
);

COMMENT ON TABLE person_insights IS 'Seed 000. The computed lens of one person (one row per person).';

CREATE INDEX idx_active_people ON person_insights(person_id) WHERE activity_state IN ('active','warming');

CREATE TRIGGER update_person_insights_timestamp BEFORE UPDATE ON person_insights
    FOR EACH ROW EXECUTE FUNCTION update_updated_at();

CREATE TABLE segments (
    id UUID NOT NULL DEFAULT gen_random_uuid(),
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    description TEXT,
    definition JSONB,
    created_by UUID,
    created_at TIMESTAMPTZ DEFAULT NOW(),
    updated_at TIMESTAMPTZ DEFAULT NOW(),
    PRIMARY KEY (user_id, id)
);

COMMENT ON TABLE segments IS 'Seed 000. Dynamic groups of people; definition holds the membership DSL.';

CREATE TRIGGER update_segments_timestamp BEFORE UPDATE ON segments
    FOR EACH ROW EXECUTE FUNCTION update_updated_at();

CREATE TABLE segment_members (
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    segment_id UUID NOT NULL,
    person_id UUID NOT NULL,
    added_at TIMESTAMPTZ DEFAULT NOW(),
    PRIMARY KEY (user_id, segment_id, person_id),
    FOREIGN KEY (user_id, segment_id) REFERENCES segments(user_id, id) ON DELETE CASCADE,
    FOREIGN KEY (user_id, person_id) REFERENCES people(user_id, id) ON DELETE CASCADE
);

COMMENT ON TABLE segment_members IS 'Seed 000. Materialised segment membership.';

CREATE INDEX idx_segment_members_person ON segment_members(person_id);

CREATE TABLE segment_insights (
    id UUID NOT NULL DEFAULT gen_random_uuid(),
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    segment_id UUID,
    traffic_type TEXT CHECK (traffic_type IN ('organic','paid')),
    top_topics JSONB,
    top_platforms JSONB,
    top_formats JSONB,
    engagement_style JSONB,
    best_times JSONB,
    expected_reach_range INT4RANGE,
    expected_engagement_rate_range NUMRANGE,
    updated_at TIMESTAMPTZ DEFAULT NOW(),
    PRIMARY KEY (user_id, id),
    UNIQUE (user_id, segment_id, traffic_type),
    FOREIGN KEY (user_id, segment_id) REFERENCES segments(user_id, id) ON DELETE CASCADE
);

COMMENT ON TABLE segment_insights IS 'Seed 000. Per-segment analytics, one row per segment and traffic type (organic vs paid).';

CREATE TRIGGER update_segment_insights_timestamp BEFORE UPDATE ON segment_insights
    FOR EACH ROW EXECUTE FUNCTION update_updated_at();

CREATE TABLE outbound_messages (
    id UUID NOT NULL DEFAULT gen_random_uuid(),
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    person_id UUID,
    segment_id UUID,
    channel TEXT NOT NULL,
    goal_type TEXT,
    variant TEXT,
    subject TEXT,
    body TEXT,
    sent_at TIMESTAMPTZ DEFAULT NOW(),
    opened_at TIMESTAMPTZ,
    clicked_at TIMESTAMPTZ,
    replied_at TIMESTAMPTZ,
    metadata JSONB,
    PRIMARY KEY (user_id, id),
    FOREIGN KEY (user_id, person_id) REFERENCES people(user_id, id) ON DELETE CASCADE,
    -- SET NULL of segment_id alone: a bare SET NULL would null user_id too
    FOREIGN KEY (user_id, segment_id) REFERENCES segments(user_id, id) ON DELETE SET NULL (segment_id)
);

COMMENT ON TABLE outbound_messages IS 'Seed 000. Log of every e-mail and DM sent, with open/click/reply times.';

CREATE INDEX idx_outbound_person ON outbound_messages(person_id, sent_at DESC);
CREATE INDEX idx_outbound_segment ON outbound_messages(segment_id, sent_at DESC);
