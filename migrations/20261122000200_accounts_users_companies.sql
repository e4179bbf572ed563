-- Owns: companies, users, accounts and 003's role/tier/size enums.
-- Seeds: 003 (companies, users, enums), 002 (users, accounts), 004 (users).
-- DESIGN §2: one users table, the union of the three seeds' columns.

-- 003 writes each CREATE TYPE after the table that uses it; types come first here.
CREATE TYPE user_role AS ENUM ('admin', 'manager', 'user', 'viewer');
CREATE TYPE subscription_tier AS ENUM ('free', 'pro', 'enterprise');
CREATE TYPE company_size AS ENUM ('startup', 'small', 'medium', 'large', 'enterprise');

-- Not a tenant table: a company groups users (sign-up creates a personal one) and
-- becomes a reference table when sharded.
CREATE TABLE companies (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    name VARCHAR(255) NOT NULL,
    domain VARCHAR(255),
    industry VARCHAR(100),
    size company_size,
    brand_guidelines JSONB DEFAULT '{}',
    api_limits JSONB DEFAULT '{}',
    created_at TIMESTAMPTZ DEFAULT NOW(),
    updated_at TIMESTAMPTZ DEFAULT NOW(),
    is_active BOOLEAN DEFAULT true
);

COMMENT ON TABLE companies IS 'Seed 003. Groups users; every user belongs to one (DESIGN §9). Not a tenant table.';

CREATE TRIGGER update_companies_timestamp BEFORE UPDATE ON companies
    FOR EACH ROW EXECUTE FUNCTION update_updated_at();

CREATE TABLE users (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    -- a sign-in identity: unique across all tenants (DESIGN §1 global keys)
    email VARCHAR(255) NOT NULL UNIQUE,
    -- 003: NOT NULL UNIQUE; sign-up derives it from the e-mail's local part (DESIGN §9)
    username VARCHAR(100) NOT NULL UNIQUE,
    -- nullable: 002 and 004 users sign in through OAuth only (deviations.json)
    password_hash VARCHAR(255),
    name VARCHAR(255),
    full_name VARCHAR(255),
    first_name VARCHAR(100),
    last_name VARCHAR(100),
    avatar_url TEXT,
    -- every user belongs to a company: sign-up creates a personal one (DESIGN §9)
    company_id UUID NOT NULL REFERENCES companies(id),
    role user_role DEFAULT 'user',
    subscription_tier subscription_tier DEFAULT 'free',
    settings JSONB DEFAULT '{}',
    features JSONB DEFAULT '{}',
    preferences JSONB DEFAULT '{}',
    timezone VARCHAR(50) DEFAULT 'UTC',
    onboarding_completed BOOLEAN DEFAULT FALSE,
    email_verified BOOLEAN DEFAULT false,
    is_active BOOLEAN DEFAULT true,
    last_login_at TIMESTAMPTZ,
    -- 003 "Sensitive data encryption": ciphertext, key outside the database
    encrypted_data BYTEA,
    created_at TIMESTAMPTZ DEFAULT NOW(),
    updated_at TIMESTAMPTZ DEFAULT NOW()
);

COMMENT ON TABLE users IS 'Seeds 002 + 003 + 004 merged (DESIGN §2). Not a tenant table: RLS lets a user read and edit their own row; role, subscription_tier, is_active and company_id are not updatable by everreach_app.';

CREATE INDEX idx_users_email ON users(email);
CREATE INDEX idx_users_company ON users(company_id);
CREATE INDEX idx_users_active ON users(is_active);
CREATE INDEX idx_active_users ON users(id) WHERE is_active = true;

CREATE TRIGGER update_users_timestamp BEFORE UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION update_updated_at();

-- Sign-in and mail provider connections (DESIGN §7).
CREATE TABLE accounts (
    id UUID NOT NULL DEFAULT gen_random_uuid(),
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    provider VARCHAR(50) NOT NULL,
    provider_account_id VARCHAR(255) NOT NULL,
    -- 002 writes TEXT ENCRYPTED, which is not SQL: TEXT holding AES-256-GCM ciphertext
    -- with its key id (DESIGN §8)
    access_token TEXT,
    refresh_token TEXT,
    expires_at TIMESTAMPTZ,
    token_type VARCHAR(50),
    scope TEXT,
    id_token TEXT,
    session_state TEXT,
    created_at TIMESTAMPTZ DEFAULT NOW(),
    updated_at TIMESTAMPTZ DEFAULT NOW(),
    sync_state JSONB DEFAULT '{}',
    PRIMARY KEY (user_id, id),
    -- a global key (DESIGN §1): one provider identity belongs to one user, as Auth.js keeps it
    UNIQUE (provider, provider_account_id)
);

COMMENT ON TABLE accounts IS 'Seed 002. OAuth sign-in and mail provider accounts; tokens are ciphertext. (provider, provider_account_id) is a global key, read across tenants only through SECURITY DEFINER lookups.';

CREATE INDEX idx_accounts_user_id ON accounts(user_id);
CREATE INDEX idx_accounts_provider ON accounts(provider);

CREATE TRIGGER update_accounts_timestamp BEFORE UPDATE ON accounts
    FOR EACH ROW EXECUTE FUNCTION update_updated_at();
