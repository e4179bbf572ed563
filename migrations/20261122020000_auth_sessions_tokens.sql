-- Owns: sign-in state — web sessions, API tokens, e-mail verification tokens — and
-- the SECURITY DEFINER lookups that find a user from a password, a cookie or a
-- bearer token before any tenant is known. Seeds: 003's `user:session:{user_id}`
-- Redis key (DESIGN §1: sessions are a table, Redis at most a cache of it), 002/003
-- users (`last_login_at`, `email_verified`).
--
-- Every token is random (256 bits) and stored only as its SHA-256: a leaked table
-- does not sign anyone in, and a fast hash is enough for a secret that long. The
-- hashes are global keys (unique on their own) and read across tenants only through
-- the functions below, which return the least they can.

CREATE TABLE sessions (
    id UUID NOT NULL DEFAULT gen_random_uuid(),
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    expires_at TIMESTAMPTZ NOT NULL,
    last_seen_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    user_agent TEXT,
    ip INET,
    PRIMARY KEY (user_id, id)
);
CREATE INDEX idx_sessions_expires ON sessions (expires_at);
COMMENT ON TABLE sessions IS 'Web sign-in sessions (HttpOnly cookie); token stored as SHA-256 only.';

CREATE TABLE api_tokens (
    id UUID NOT NULL DEFAULT gen_random_uuid(),
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name VARCHAR(100) NOT NULL CHECK (btrim(name) <> ''),
    token_hash TEXT NOT NULL UNIQUE,
    -- the first characters of the token, so a user can tell tokens apart in a list
    token_prefix VARCHAR(16) NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    last_used_at TIMESTAMPTZ,
    expires_at TIMESTAMPTZ,
    revoked_at TIMESTAMPTZ,
    PRIMARY KEY (user_id, id)
);
-- a live token's name is unique per user, so `token create --name` cannot shadow one
CREATE UNIQUE INDEX idx_api_tokens_live_name ON api_tokens (user_id, name) WHERE revoked_at IS NULL;
COMMENT ON TABLE api_tokens IS 'Bearer tokens for scripts and the CLI: shown once, stored as SHA-256, named, revocable.';

CREATE TABLE email_verification_tokens (
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    email VARCHAR(255) NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    expires_at TIMESTAMPTZ NOT NULL,
    used_at TIMESTAMPTZ,
    PRIMARY KEY (user_id, token_hash)
);
COMMENT ON TABLE email_verification_tokens IS 'One-time links proving a user reads their e-mail (users.email_verified).';

SELECT everreach_tenant_rls(t) FROM unnest(ARRAY['sessions', 'api_tokens', 'email_verification_tokens']::regclass[]) t;

-- Password sign-in: the stored hash (verified by the application, argon2id) and
-- whether the account may sign in. Unknown e-mail: no row.
CREATE FUNCTION auth_password_lookup(p_email text)
    RETURNS TABLE (user_id uuid, password_hash text, is_active boolean)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, public
    AS $$
        SELECT u.id, u.password_hash, coalesce(u.is_active, false)
        FROM public.users u WHERE u.email = lower(btrim(p_email))
    $$;

-- A user id for an e-mail (CLI token creation, invitations).
CREATE FUNCTION auth_user_id_by_email(p_email text) RETURNS uuid
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, public
    AS $$ SELECT u.id FROM public.users u WHERE u.email = lower(btrim(p_email)) $$;

-- The signed-in user of a session cookie: live session, active user. Touches
-- last_seen_at at most once a minute, so reads do not turn into a write each time.
CREATE FUNCTION auth_session_user(p_token_hash text)
    RETURNS TABLE (user_id uuid, role user_role, company_id uuid)
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, public
    AS $$
BEGIN
    UPDATE public.sessions s SET last_seen_at = now()
     WHERE s.token_hash = p_token_hash AND s.last_seen_at < now() - interval '1 minute';
    RETURN QUERY
        SELECT u.id, u.role, u.company_id
          FROM public.sessions s JOIN public.users u ON u.id = s.user_id
         WHERE s.token_hash = p_token_hash AND s.expires_at > now() AND u.is_active;
END;
$$;

-- The user of a bearer token: not revoked, not expired, active user.
CREATE FUNCTION auth_api_token_user(p_token_hash text)
    RETURNS TABLE (user_id uuid, role user_role, company_id uuid)
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, public
    AS $$
BEGIN
    UPDATE public.api_tokens t SET last_used_at = now()
     WHERE t.token_hash = p_token_hash
       AND (t.last_used_at IS NULL OR t.last_used_at < now() - interval '1 minute');
    RETURN QUERY
        SELECT u.id, u.role, u.company_id
          FROM public.api_tokens t JOIN public.users u ON u.id = t.user_id
         WHERE t.token_hash = p_token_hash AND t.revoked_at IS NULL
           AND (t.expires_at IS NULL OR t.expires_at > now()) AND u.is_active;
END;
$$;

-- Uses a verification link once: marks the user's e-mail verified if the link is
-- live and was sent to the address the user still has. Returns the user, or NULL.
CREATE FUNCTION auth_verify_email(p_token_hash text) RETURNS uuid
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, public
    AS $$
DECLARE
    v_user uuid;
BEGIN
    UPDATE public.email_verification_tokens t SET used_at = now()
      FROM public.users u
     WHERE t.token_hash = p_token_hash AND t.used_at IS NULL AND t.expires_at > now()
       AND u.id = t.user_id AND u.email = t.email
    RETURNING t.user_id INTO v_user;
    IF v_user IS NOT NULL THEN
        UPDATE public.users SET email_verified = true WHERE id = v_user;
    END IF;
    RETURN v_user;
END;
$$;

-- Erases the signed-in user and, through ON DELETE CASCADE, every row they own; then
-- their company if nobody is left in it. The caller has re-authenticated.
CREATE FUNCTION delete_own_account() RETURNS void
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, public
    AS $$
DECLARE
    v_user uuid := current_user_id();
    v_company uuid;
BEGIN
    IF v_user IS NULL THEN
        RAISE EXCEPTION 'delete_own_account: no signed-in user' USING ERRCODE = 'insufficient_privilege';
    END IF;
    DELETE FROM public.users WHERE id = v_user RETURNING company_id INTO v_company;
    DELETE FROM public.companies c
     WHERE c.id = v_company AND NOT EXISTS (SELECT 1 FROM public.users u WHERE u.company_id = c.id);
END;
$$;

GRANT SELECT, UPDATE ON public.sessions, public.api_tokens, public.email_verification_tokens TO everreach_definer;
-- email_verified for verification links; role, tier and activation for the operator
-- (CLI) and, later, company admins acting through definer functions.
GRANT UPDATE (email_verified, role, subscription_tier, is_active) ON public.users TO everreach_definer;
GRANT DELETE ON public.users, public.companies TO everreach_definer;

DO $$
DECLARE
    f text;
BEGIN
    FOREACH f IN ARRAY ARRAY[
        'auth_password_lookup(text)', 'auth_user_id_by_email(text)', 'auth_session_user(text)',
        'auth_api_token_user(text)', 'auth_verify_email(text)', 'delete_own_account()'
    ] LOOP
        EXECUTE format('ALTER FUNCTION %s OWNER TO everreach_definer', f);
        EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO everreach_app', f);
    END LOOP;
END
$$;
