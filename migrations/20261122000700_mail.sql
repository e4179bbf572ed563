-- Owns: the mail CRM — organizations, contacts, emails (partitioned by month),
-- email_message_keys, email_interactions, contact_stats, enrichments.
-- Seed: 002. DESIGN §1 tenant keys; §5 contacts.person_id; §9 Message-ID dedupe in a
-- key table and email_interactions.email_internal_date.

-- Created before contacts so that contacts.organization_id can be a key.
CREATE TABLE organizations (
    id UUID NOT NULL DEFAULT gen_random_uuid(),
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name VARCHAR(255) NOT NULL,
    domain VARCHAR(255),
    website TEXT,
    description TEXT,
    industry VARCHAR(100),
    size VARCHAR(50),
    location JSONB,
    logo_url TEXT,
    social_profiles JSONB DEFAULT '{}',
    custom_fields JSONB DEFAULT '{}',
    enrichment_data JSONB DEFAULT '{}',
    created_at TIMESTAMPTZ DEFAULT NOW(),
    updated_at TIMESTAMPTZ DEFAULT NOW(),
    PRIMARY KEY (user_id, id)
);

COMMENT ON TABLE organizations IS 'Seed 002. Organisations the tenant''s contacts belong to.';

CREATE INDEX idx_organizations_domain ON organizations(domain);
CREATE INDEX idx_organizations_user_id ON organizations(user_id);

CREATE TRIGGER update_organizations_timestamp BEFORE UPDATE ON organizations
    FOR EACH ROW EXECUTE FUNCTION update_updated_at();

CREATE TABLE contacts (
    id UUID NOT NULL DEFAULT gen_random_uuid(),
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    -- DESIGN §5: the person this channel record belongs to
    person_id UUID,
    email VARCHAR(255),
    name VARCHAR(255),
    first_name VARCHAR(100),
    last_name VARCHAR(100),
    phone VARCHAR(50),
    avatar_url TEXT,
    organization_id UUID,
    title VARCHAR(255),
    bio TEXT,
    location JSONB,
    social_profiles JSONB DEFAULT '{}',
    custom_fields JSONB DEFAULT '{}',
    tags TEXT[] DEFAULT '{}',
    source VARCHAR(50),
    source_details JSONB,
    relationship_strength DECIMAL(3,2) CHECK (relationship_strength BETWEEN 0 AND 1),
    last_interaction_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ DEFAULT NOW(),
    updated_at TIMESTAMPTZ DEFAULT NOW(),
    is_deleted BOOLEAN DEFAULT FALSE,
    merged_into_id UUID,
    search_vector tsvector,
    embedding vector(1536),
    PRIMARY KEY (user_id, id),
    FOREIGN KEY (user_id, person_id) REFERENCES people(user_id, id) ON DELETE SET NULL (person_id),
    -- 002 leaves organization_id and merged_into_id without keys; keyed, they cannot
    -- name another tenant's rows, and deleting the target only clears the link
    FOREIGN KEY (user_id, organization_id) REFERENCES organizations(user_id, id) ON DELETE SET NULL (organization_id),
    FOREIGN KEY (user_id, merged_into_id) REFERENCES contacts(user_id, id) ON DELETE SET NULL (merged_into_id)
);

COMMENT ON TABLE contacts IS 'Seed 002. E-mail contacts; person_id links to the people hub (DESIGN §5); search_vector is kept by trigger.';

CREATE INDEX idx_contacts_user_id ON contacts(user_id);
CREATE INDEX idx_contacts_email ON contacts(email);
CREATE INDEX idx_contacts_organization ON contacts(organization_id);
CREATE INDEX idx_contacts_updated_at ON contacts(updated_at DESC);
CREATE INDEX idx_contacts_search ON contacts USING GIN(search_vector);
CREATE INDEX idx_contacts_embedding ON contacts USING ivfflat(embedding vector_cosine_ops);
CREATE INDEX idx_contacts_tags ON contacts USING GIN(tags);
CREATE INDEX idx_contacts_user_strength_covering
    ON contacts(user_id, relationship_strength DESC)
    INCLUDE (name, email, last_interaction_at);
CREATE INDEX idx_contacts_person ON contacts(user_id, person_id);
CREATE INDEX idx_contacts_merged_into ON contacts(user_id, merged_into_id);

CREATE FUNCTION update_contact_search_vector() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    NEW.search_vector :=
        setweight(to_tsvector('english', COALESCE(NEW.name, '')), 'A') ||
        setweight(to_tsvector('english', COALESCE(NEW.email, '')), 'A') ||
        setweight(to_tsvector('english', COALESCE(NEW.organization_id::text, '')), 'B') ||
        setweight(to_tsvector('english', COALESCE(NEW.title, '')), 'B') ||
        setweight(to_tsvector('english', COALESCE(NEW.bio, '')), 'C');
    RETURN NEW;
END;
$$;

CREATE TRIGGER update_contact_search_vector_trigger
    BEFORE INSERT OR UPDATE ON contacts
    FOR EACH ROW EXECUTE FUNCTION update_contact_search_vector();

CREATE TRIGGER update_contacts_timestamp BEFORE UPDATE ON contacts
    FOR EACH ROW EXECUTE FUNCTION update_updated_at();

-- Partitioned by month on internal_date (002). A partitioned table's primary key and
-- unique keys must hold the partition key, so both gain internal_date; the partition
-- key is NOT NULL because a NULL row has no month to go to.
CREATE TABLE emails (
    id UUID NOT NULL DEFAULT gen_random_uuid(),
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    account_id UUID,
    message_id VARCHAR(255) NOT NULL,
    -- RFC 822 Message-ID; the cross-source dedupe key, kept in email_message_keys (DESIGN §9)
    internet_message_id TEXT,
    thread_id VARCHAR(255),
    from_email VARCHAR(255),
    from_name VARCHAR(255),
    to_emails TEXT[],
    cc_emails TEXT[],
    bcc_emails TEXT[],
    subject TEXT,
    body_text TEXT,
    body_html TEXT,
    snippet TEXT,
    labels TEXT[],
    is_unread BOOLEAN DEFAULT TRUE,
    is_important BOOLEAN DEFAULT FALSE,
    is_starred BOOLEAN DEFAULT FALSE,
    is_draft BOOLEAN DEFAULT FALSE,
    is_sent BOOLEAN DEFAULT FALSE,
    has_attachments BOOLEAN DEFAULT FALSE,
    attachment_count INTEGER DEFAULT 0,
    internal_date TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    created_at TIMESTAMPTZ DEFAULT NOW(),
    updated_at TIMESTAMPTZ DEFAULT NOW(),
    extracted_data JSONB DEFAULT '{}',
    ai_summary TEXT,
    ai_category VARCHAR(50),
    ai_sentiment VARCHAR(20),
    search_vector tsvector,
    embedding vector(1536),
    PRIMARY KEY (user_id, id, internal_date),
    -- 002's UNIQUE(user_id, message_id) plus the partition key: a provider id keeps its
    -- internal date on every sync, so re-syncs still collide
    UNIQUE (user_id, message_id, internal_date),
    FOREIGN KEY (user_id, account_id) REFERENCES accounts(user_id, id) ON DELETE CASCADE
) PARTITION BY RANGE (internal_date);

COMMENT ON TABLE emails IS 'Seed 002. Provider messages, partitioned by month on internal_date (partitions emails_YYYY_MM from create_monthly_partitions()). message_id is the provider''s id; internet_message_id is deduped through email_message_keys.';

CREATE INDEX idx_emails_user_thread ON emails(user_id, thread_id);
CREATE INDEX idx_emails_internal_date ON emails(internal_date DESC);
CREATE INDEX idx_emails_from ON emails(from_email);
CREATE INDEX idx_emails_search ON emails USING GIN(search_vector);
CREATE INDEX idx_emails_labels ON emails USING GIN(labels);
CREATE INDEX idx_emails_user_date_covering
    ON emails(user_id, internal_date DESC)
    INCLUDE (subject, from_email, snippet);
CREATE INDEX idx_emails_account ON emails(user_id, account_id);

CREATE TRIGGER update_emails_timestamp BEFORE UPDATE ON emails
    FOR EACH ROW EXECUTE FUNCTION update_updated_at();

-- DESIGN §9: Message-ID cannot be unique across the months of emails, so dedupe lives
-- in this small unpartitioned table. It is written first in the e-mail's transaction
-- (INSERT ... ON CONFLICT DO NOTHING RETURNING says whether the message is new); its
-- key to emails is checked at commit, after the e-mail row exists.
CREATE TABLE email_message_keys (
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    internet_message_id TEXT NOT NULL,
    email_id UUID NOT NULL,
    email_internal_date TIMESTAMPTZ NOT NULL,
    created_at TIMESTAMPTZ DEFAULT NOW(),
    PRIMARY KEY (user_id, internet_message_id),
    FOREIGN KEY (user_id, email_id, email_internal_date)
        REFERENCES emails(user_id, id, internal_date)
        ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED
);

COMMENT ON TABLE email_message_keys IS 'DESIGN §9 (for seed 002 emails). One row per RFC 822 Message-ID per tenant, naming the e-mail that holds it.';

CREATE INDEX idx_email_message_keys_email ON email_message_keys(user_id, email_id, email_internal_date);

CREATE TABLE email_interactions (
    id UUID NOT NULL DEFAULT gen_random_uuid(),
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    email_id UUID,
    -- the e-mail's partition key, part of its key (DESIGN §9)
    email_internal_date TIMESTAMPTZ,
    contact_id UUID,
    interaction_type VARCHAR(20) CHECK (interaction_type IN ('from', 'to', 'cc', 'bcc')),
    created_at TIMESTAMPTZ DEFAULT NOW(),
    PRIMARY KEY (user_id, id),
    -- a key with one NULL column is not checked at all, so both are set or neither
    CONSTRAINT email_interactions_email_key_complete
        CHECK ((email_id IS NULL) = (email_internal_date IS NULL)),
    FOREIGN KEY (user_id, email_id, email_internal_date)
        REFERENCES emails(user_id, id, internal_date) ON DELETE CASCADE,
    FOREIGN KEY (user_id, contact_id) REFERENCES contacts(user_id, id) ON DELETE CASCADE
);

COMMENT ON TABLE email_interactions IS 'Seed 002. Links an e-mail to a contact as from/to/cc/bcc; each link also appears as a person_events row (DESIGN §9).';

CREATE INDEX idx_interactions_email ON email_interactions(email_id);
CREATE INDEX idx_interactions_contact ON email_interactions(contact_id);
CREATE INDEX idx_interactions_type ON email_interactions(interaction_type);

CREATE TABLE contact_stats (
    id UUID NOT NULL DEFAULT gen_random_uuid(),
    contact_id UUID,
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    total_emails_sent INTEGER DEFAULT 0,
    total_emails_received INTEGER DEFAULT 0,
    last_email_sent_at TIMESTAMPTZ,
    last_email_received_at TIMESTAMPTZ,
    avg_response_time INTERVAL,
    interaction_score DECIMAL(5,2),
    topics TEXT[],
    sentiment_score DECIMAL(3,2) CHECK (sentiment_score BETWEEN -1 AND 1),
    calculated_at TIMESTAMPTZ DEFAULT NOW(),
    PRIMARY KEY (user_id, id),
    FOREIGN KEY (user_id, contact_id) REFERENCES contacts(user_id, id) ON DELETE CASCADE
);

COMMENT ON TABLE contact_stats IS 'Seed 002. One row of e-mail statistics per contact.';

CREATE UNIQUE INDEX idx_contact_stats_unique ON contact_stats(user_id, contact_id);

CREATE TABLE enrichments (
    id UUID NOT NULL DEFAULT gen_random_uuid(),
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    contact_id UUID,
    source VARCHAR(50) NOT NULL,
    data JSONB NOT NULL,
    confidence_score DECIMAL(3,2),
    fetched_at TIMESTAMPTZ DEFAULT NOW(),
    expires_at TIMESTAMPTZ,
    is_stale BOOLEAN DEFAULT FALSE,
    PRIMARY KEY (user_id, id),
    FOREIGN KEY (user_id, contact_id) REFERENCES contacts(user_id, id) ON DELETE CASCADE
);

COMMENT ON TABLE enrichments IS 'Seed 002. Enrichment results per contact (twitter, linkedin, clearbit, ...).';

CREATE INDEX idx_enrichments_contact ON enrichments(contact_id);
CREATE INDEX idx_enrichments_source ON enrichments(source);
