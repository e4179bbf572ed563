-- Owns: the Instagram CRM — instagram_contacts, instagram_conversations,
-- instagram_messages, automation_patterns, next_best_actions, fit_signals,
-- outreach_queue.
-- Seed: 001 (written single-tenant for Supabase). DESIGN §1 adds the tenant key;
-- DESIGN §5 links a contact to its person; DESIGN §9 makes 001's example rows
-- (patterns, templates, fit signals) each user's own rows, seeded at sign-up, which
-- is why those tables are tenant tables too. Value lists that 001 documents only in
-- prose tables (stages, lanes, pattern types, outreach statuses, 0-20 score
-- components) are closed, so they become CHECKs here.

CREATE TABLE instagram_contacts (
    id UUID NOT NULL DEFAULT gen_random_uuid(),
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    -- DESIGN §5: the person this channel record belongs to
    person_id UUID,
    instagram_username TEXT NOT NULL,
    display_name TEXT,
    profile_url TEXT,
    bio TEXT,
    follower_count INTEGER,
    following_count INTEGER,

    -- Relationship scoring (Revio framework)
    relationship_score INTEGER DEFAULT 50,
    relationship_stage TEXT DEFAULT 'first_touch' CHECK (relationship_stage IN (
        'first_touch', 'context_captured', 'micro_win_delivered', 'cadence_established',
        'trust_signals', 'fit_repeats', 'permissioned_offer', 'post_win')),
    last_meaningful_touch TIMESTAMPTZ,
    next_planned_touch TIMESTAMPTZ,

    -- Score components, 0-20 each (001)
    resonance_score INTEGER DEFAULT 0 CHECK (resonance_score BETWEEN 0 AND 20),
    need_clarity_score INTEGER DEFAULT 0 CHECK (need_clarity_score BETWEEN 0 AND 20),
    value_delivered_score INTEGER DEFAULT 0 CHECK (value_delivered_score BETWEEN 0 AND 20),
    reliability_score INTEGER DEFAULT 0 CHECK (reliability_score BETWEEN 0 AND 20),
    consent_level INTEGER DEFAULT 0 CHECK (consent_level BETWEEN 0 AND 20),

    -- Context card
    what_theyre_building TEXT,
    current_friction TEXT,
    their_definition_of_win TEXT,
    constraints TEXT,
    preferred_contact_style TEXT,

    -- Trust and engagement
    trust_signals JSONB DEFAULT '[]',
    fit_signals JSONB DEFAULT '[]',
    value_delivered_log JSONB DEFAULT '[]',

    -- Message stats
    total_messages_sent INTEGER DEFAULT 0,
    total_messages_received INTEGER DEFAULT 0,

    tags TEXT[],
    notes TEXT,
    created_at TIMESTAMPTZ DEFAULT NOW(),
    updated_at TIMESTAMPTZ DEFAULT NOW(),
    PRIMARY KEY (user_id, id),
    -- 001's UNIQUE instagram_username, per tenant
    UNIQUE (user_id, instagram_username),
    FOREIGN KEY (user_id, person_id) REFERENCES people(user_id, id) ON DELETE SET NULL (person_id)
);

COMMENT ON TABLE instagram_contacts IS 'Seed 001. Instagram contact profiles with relationship scoring; person_id links to the people hub (DESIGN §5).';

CREATE INDEX idx_contacts_username ON instagram_contacts(instagram_username);
CREATE INDEX idx_contacts_score ON instagram_contacts(relationship_score DESC);
CREATE INDEX idx_contacts_stage ON instagram_contacts(relationship_stage);
CREATE INDEX idx_instagram_contacts_person ON instagram_contacts(user_id, person_id);

CREATE TRIGGER update_instagram_contacts_timestamp BEFORE UPDATE ON instagram_contacts
    FOR EACH ROW EXECUTE FUNCTION update_updated_at();

CREATE TABLE instagram_conversations (
    id UUID NOT NULL DEFAULT gen_random_uuid(),
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    contact_id UUID,
    thread_id TEXT,
    last_message_at TIMESTAMPTZ,
    last_message_preview TEXT,
    last_message_is_outbound BOOLEAN,
    is_read BOOLEAN DEFAULT TRUE,
    is_archived BOOLEAN DEFAULT FALSE,
    tab TEXT DEFAULT 'primary',
    created_at TIMESTAMPTZ DEFAULT NOW(),
    updated_at TIMESTAMPTZ DEFAULT NOW(),
    PRIMARY KEY (user_id, id),
    FOREIGN KEY (user_id, contact_id) REFERENCES instagram_contacts(user_id, id) ON DELETE CASCADE
);

COMMENT ON TABLE instagram_conversations IS 'Seed 001. DM thread metadata.';

CREATE INDEX idx_conversations_contact ON instagram_conversations(contact_id);
CREATE INDEX idx_conversations_updated ON instagram_conversations(updated_at DESC);

CREATE TRIGGER update_instagram_conversations_timestamp BEFORE UPDATE ON instagram_conversations
    FOR EACH ROW EXECUTE FUNCTION update_updated_at();

CREATE TABLE instagram_messages (
    id UUID NOT NULL DEFAULT gen_random_uuid(),
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    conversation_id UUID,
    contact_id UUID,
    message_text TEXT NOT NULL,
    message_type TEXT DEFAULT 'text',
    is_outbound BOOLEAN NOT NULL,
    sent_by_automation BOOLEAN DEFAULT FALSE,
    sent_at TIMESTAMPTZ DEFAULT NOW(),
    raw_data JSONB,
    created_at TIMESTAMPTZ DEFAULT NOW(),
    PRIMARY KEY (user_id, id),
    FOREIGN KEY (user_id, conversation_id) REFERENCES instagram_conversations(user_id, id) ON DELETE CASCADE,
    FOREIGN KEY (user_id, contact_id) REFERENCES instagram_contacts(user_id, id) ON DELETE CASCADE
);

COMMENT ON TABLE instagram_messages IS 'Seed 001. Individual DMs; each also appears as a person_events row (DESIGN §5).';

CREATE INDEX idx_messages_conversation ON instagram_messages(conversation_id);
CREATE INDEX idx_messages_contact ON instagram_messages(contact_id);
CREATE INDEX idx_messages_sent ON instagram_messages(sent_at DESC);
-- 001's dedupe key, per tenant
CREATE UNIQUE INDEX idx_messages_unique ON instagram_messages(user_id, contact_id, message_text, sent_at);

CREATE TABLE automation_patterns (
    id UUID NOT NULL DEFAULT gen_random_uuid(),
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    pattern_type TEXT NOT NULL CHECK (pattern_type IN ('known_handle', 'selector', 'skip_pattern', 'spam_pattern')),
    pattern_key TEXT NOT NULL,
    pattern_value TEXT NOT NULL,
    metadata JSONB DEFAULT '{}',
    is_active BOOLEAN DEFAULT TRUE,
    created_at TIMESTAMPTZ DEFAULT NOW(),
    updated_at TIMESTAMPTZ DEFAULT NOW(),
    PRIMARY KEY (user_id, id),
    UNIQUE (user_id, pattern_type, pattern_key)
);

COMMENT ON TABLE automation_patterns IS 'Seed 001. Known handles, UI selectors, skip and spam patterns; seeded per user at sign-up (DESIGN §9).';

CREATE INDEX idx_patterns_type ON automation_patterns(pattern_type);

CREATE TRIGGER update_automation_patterns_timestamp BEFORE UPDATE ON automation_patterns
    FOR EACH ROW EXECUTE FUNCTION update_updated_at();

CREATE TABLE next_best_actions (
    id UUID NOT NULL DEFAULT gen_random_uuid(),
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    lane TEXT NOT NULL CHECK (lane IN ('friendship', 'service', 'offer', 'retention', 'rewarm')),
    -- 001's example stages ('any', 'context', 'cold', ...) are not relationship stages,
    -- so stage stays open
    stage TEXT,
    action_key TEXT NOT NULL,
    action_text TEXT NOT NULL,
    metadata JSONB DEFAULT '{}',
    is_active BOOLEAN DEFAULT TRUE,
    created_at TIMESTAMPTZ DEFAULT NOW(),
    PRIMARY KEY (user_id, id),
    UNIQUE (user_id, lane, action_key)
);

COMMENT ON TABLE next_best_actions IS 'Seed 001. Reply templates by lane and stage; seeded per user at sign-up (DESIGN §9).';

CREATE TABLE fit_signals (
    id UUID NOT NULL DEFAULT gen_random_uuid(),
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    product TEXT NOT NULL,
    signal_key TEXT NOT NULL,
    signal_description TEXT NOT NULL,
    offer_template TEXT,
    is_active BOOLEAN DEFAULT TRUE,
    created_at TIMESTAMPTZ DEFAULT NOW(),
    PRIMARY KEY (user_id, id),
    UNIQUE (user_id, product, signal_key)
);

COMMENT ON TABLE fit_signals IS 'Seed 001. Product-specific trigger phrases and offer templates; seeded per user at sign-up (DESIGN §9).';

CREATE TABLE outreach_queue (
    id UUID NOT NULL DEFAULT gen_random_uuid(),
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    contact_id UUID,
    username TEXT NOT NULL,
    message_text TEXT NOT NULL,
    priority INTEGER DEFAULT 5,
    status TEXT DEFAULT 'pending' CHECK (status IN ('pending', 'scheduled', 'sent', 'failed', 'cancelled')),
    scheduled_at TIMESTAMPTZ,
    sent_at TIMESTAMPTZ,
    error TEXT,
    created_at TIMESTAMPTZ DEFAULT NOW(),
    PRIMARY KEY (user_id, id),
    -- 001 gives this key no ON DELETE, unlike its other contact keys; queued outreach
    -- to a deleted contact is dropped with it rather than blocking the delete
    FOREIGN KEY (user_id, contact_id) REFERENCES instagram_contacts(user_id, id) ON DELETE CASCADE
);

COMMENT ON TABLE outreach_queue IS 'Seed 001. Scheduled outreach DMs.';

CREATE INDEX idx_outreach_status ON outreach_queue(status);
CREATE INDEX idx_outreach_scheduled ON outreach_queue(scheduled_at);
CREATE INDEX idx_outreach_contact ON outreach_queue(user_id, contact_id);
