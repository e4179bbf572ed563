-- Owns: ig_connections, connector_configs.
-- Seed: 000 (Platform Connectors). DESIGN §7: ig_connections is the Meta page /
-- IG-business detail of an Instagram connection; connector_configs holds non-OAuth
-- connector settings. Every token and secret is ciphertext (AES-256-GCM, key id
-- stored with it, key outside the database).

CREATE TABLE ig_connections (
    id UUID NOT NULL DEFAULT gen_random_uuid(),
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    -- 000's owner column stays, generated from the tenant key (DESIGN §9), so the two
    -- can never disagree
    everreach_user_id UUID NOT NULL GENERATED ALWAYS AS (user_id) STORED,
    fb_page_id TEXT NOT NULL,
    ig_business_id TEXT NOT NULL,
    access_token TEXT NOT NULL,
    token_expires_at TIMESTAMPTZ NOT NULL,
    created_at TIMESTAMPTZ DEFAULT NOW(),
    last_synced_at TIMESTAMPTZ,
    PRIMARY KEY (user_id, id)
);

COMMENT ON TABLE ig_connections IS 'Seed 000. Meta page and IG business account of an Instagram connection; access_token is ciphertext.';
COMMENT ON COLUMN ig_connections.everreach_user_id IS 'Seed 000 name of the owner; generated from user_id (DESIGN §9).';

CREATE INDEX idx_ig_conn_user ON ig_connections(everreach_user_id);

CREATE TABLE connector_configs (
    id UUID NOT NULL DEFAULT gen_random_uuid(),
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    -- 000 lists meta, youtube, tiktok, blotato, linkedin, twitter as examples of a
    -- growing set, so no CHECK
    connector_type TEXT NOT NULL,
    config JSONB NOT NULL,
    is_enabled BOOLEAN DEFAULT TRUE,
    created_at TIMESTAMPTZ DEFAULT NOW(),
    updated_at TIMESTAMPTZ DEFAULT NOW(),
    PRIMARY KEY (user_id, id),
    UNIQUE (user_id, connector_type)
);

COMMENT ON TABLE connector_configs IS 'Seed 000. Per-user settings of non-OAuth connectors (API keys, webhooks); secrets inside config are ciphertext.';

CREATE TRIGGER update_connector_configs_timestamp BEFORE UPDATE ON connector_configs
    FOR EACH ROW EXECUTE FUNCTION update_updated_at();
