-- Owns: the account rules of issue 11 (docs/SECURITY.md). Invitations become pending
-- rows keyed by company and e-mail (the user row is made on acceptance, so an
-- invitation never blocks the address from signing up on its own); password reset
-- links; the mail outbox; removing a member; the last-admin rule on account
-- deletion; the purge of expired credentials; and column grants that keep `email`,
-- `email_verified` and `password_hash` out of reach of a plain UPDATE by the app.

-- ---------------------------------------------------------------------------------
-- Invitations: one pending row per company and e-mail. Accepting, revoking or
-- expiring it removes it; resending gives it a new link and a new expiry.
-- ---------------------------------------------------------------------------------

CREATE TABLE company_invitations (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    company_id UUID NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    email VARCHAR(255) NOT NULL CHECK (email = lower(btrim(email)) AND email ~ '^[^@\s]+@[^@\s]+$'),
    role user_role NOT NULL DEFAULT 'user',
    -- SHA-256 of the link's token; a resend replaces it
    token_hash TEXT NOT NULL UNIQUE,
    invited_by UUID REFERENCES users(id) ON DELETE SET NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    sent_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    expires_at TIMESTAMPTZ NOT NULL,
    UNIQUE (company_id, email)
);
CREATE INDEX idx_company_invitations_expires ON company_invitations (expires_at);
COMMENT ON TABLE company_invitations IS
    'Pending invitations into a company (7 days); reached only through the SECURITY DEFINER functions below.';
-- Not a tenant table (it belongs to a company): the app role has no grant on it, and
-- RLS without a policy walls it off even from a mistaken grant (everreach_definer
-- bypasses RLS; the owner, for upkeep, is not forced).
ALTER TABLE company_invitations ENABLE ROW LEVEL SECURITY;

-- The old invitations made a passwordless user at once. Pending ones move over; the
-- placeholder users (no password: they never signed in) go.
INSERT INTO company_invitations (company_id, email, role, token_hash, invited_by, created_at, sent_at, expires_at)
SELECT u.company_id, u.email, u.role, i.token_hash, i.invited_by, i.created_at, i.created_at, i.expires_at
  FROM user_invitations i JOIN users u ON u.id = i.user_id
 WHERE i.accepted_at IS NULL AND u.password_hash IS NULL AND i.expires_at > now()
ON CONFLICT DO NOTHING;
DELETE FROM users u
 WHERE u.password_hash IS NULL
   AND EXISTS (SELECT 1 FROM user_invitations i WHERE i.user_id = u.id AND i.accepted_at IS NULL);
DROP TABLE user_invitations;
DROP FUNCTION accept_invitation(text, text);
DROP FUNCTION invite_member(text, user_role, text, timestamptz);

-- Invites an e-mail into the caller's company with a role; returns the invitation.
-- A member of the company already, or a pending invitation, raises unique_violation
-- (constraint company_invitations_company_id_email_key).
CREATE FUNCTION invite_member(p_email text, p_role user_role, p_token_hash text, p_expires_at timestamptz)
    RETURNS uuid
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, public
    AS $$
DECLARE
    v_company uuid := public.require_company_admin();
    v_email text := lower(btrim(p_email));
    v_id uuid;
BEGIN
    IF EXISTS (SELECT 1 FROM public.users WHERE email = v_email AND company_id = v_company) THEN
        RAISE EXCEPTION 'already a member of the company'
            USING ERRCODE = 'unique_violation', CONSTRAINT = 'company_member_email';
    END IF;
    INSERT INTO public.company_invitations (company_id, email, role, token_hash, invited_by, expires_at)
    VALUES (v_company, v_email, p_role, p_token_hash, public.current_user_id(), p_expires_at)
    RETURNING id INTO v_id;
    RETURN v_id;
END;
$$;

-- The caller's company's pending invitations (expired ones included until purged).
CREATE FUNCTION company_invitation_list()
    RETURNS TABLE (id uuid, email varchar, role user_role, invited_by uuid, created_at timestamptz,
                   sent_at timestamptz, expires_at timestamptz)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, public
    AS $$
DECLARE
    v_company uuid := public.require_company_admin();
BEGIN
    RETURN QUERY
        SELECT i.id, i.email, i.role, i.invited_by, i.created_at, i.sent_at, i.expires_at
          FROM public.company_invitations i
         WHERE i.company_id = v_company
         ORDER BY i.email;
END;
$$;

-- Revokes a pending invitation of the caller's company; its e-mail, or NULL.
CREATE FUNCTION revoke_invitation(p_id uuid) RETURNS text
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, public
    AS $$
DECLARE
    v_company uuid := public.require_company_admin();
    v_email text;
BEGIN
    DELETE FROM public.company_invitations WHERE id = p_id AND company_id = v_company
    RETURNING email INTO v_email;
    RETURN v_email;
END;
$$;

-- Gives a pending invitation a new link and a new expiry (the old link stops
-- working); its e-mail, or NULL when the caller's company has no such invitation.
CREATE FUNCTION resend_invitation(p_id uuid, p_token_hash text, p_expires_at timestamptz) RETURNS text
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, public
    AS $$
DECLARE
    v_company uuid := public.require_company_admin();
    v_email text;
BEGIN
    UPDATE public.company_invitations
       SET token_hash = p_token_hash, expires_at = p_expires_at, sent_at = now()
     WHERE id = p_id AND company_id = v_company
    RETURNING email INTO v_email;
    RETURN v_email;
END;
$$;

-- Accepts an invitation: makes the member (the link reached the address, so it is
-- verified) and removes the invitation. NULL for an unknown or expired link. An
-- address that has an account by now raises unique_violation on users_email_key.
CREATE FUNCTION accept_invitation(p_token_hash text, p_password_hash text) RETURNS uuid
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, public
    AS $$
DECLARE
    v_inv public.company_invitations%ROWTYPE;
    v_user uuid;
BEGIN
    DELETE FROM public.company_invitations
     WHERE token_hash = p_token_hash AND expires_at > now()
    RETURNING * INTO v_inv;
    IF v_inv.id IS NULL THEN
        RETURN NULL;
    END IF;
    INSERT INTO public.users (email, username, password_hash, company_id, role, email_verified)
    VALUES (v_inv.email, public.free_username(v_inv.email), p_password_hash, v_inv.company_id, v_inv.role, true)
    RETURNING id INTO v_user;
    RETURN v_user;
END;
$$;

-- ---------------------------------------------------------------------------------
-- Password reset links: one live link per user (a new request replaces the old).
-- ---------------------------------------------------------------------------------

CREATE TABLE password_reset_tokens (
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    expires_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (user_id, token_hash)
);
CREATE INDEX idx_password_reset_tokens_expires ON password_reset_tokens (expires_at);
COMMENT ON TABLE password_reset_tokens IS 'Password reset links (1 hour, one use); stored as SHA-256.';
SELECT everreach_tenant_rls('password_reset_tokens');

-- Records a reset link for the active account of `p_email`; the user, or NULL when
-- there is none (the caller answers the same either way).
CREATE FUNCTION password_reset_request(p_email text, p_token_hash text, p_expires_at timestamptz) RETURNS uuid
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, public
    AS $$
DECLARE
    v_user uuid;
BEGIN
    SELECT id INTO v_user FROM public.users WHERE email = lower(btrim(p_email)) AND is_active;
    IF v_user IS NULL THEN
        RETURN NULL;
    END IF;
    DELETE FROM public.password_reset_tokens WHERE user_id = v_user;
    INSERT INTO public.password_reset_tokens (user_id, token_hash, expires_at)
    VALUES (v_user, p_token_hash, p_expires_at);
    RETURN v_user;
END;
$$;

-- Uses a reset link once: sets the password, marks the e-mail verified (the link
-- reached it) and ends every session of the user. The user, or NULL.
CREATE FUNCTION password_reset_confirm(p_token_hash text, p_password_hash text) RETURNS uuid
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, public
    AS $$
DECLARE
    v_user uuid;
BEGIN
    DELETE FROM public.password_reset_tokens
     WHERE token_hash = p_token_hash AND expires_at > now()
    RETURNING user_id INTO v_user;
    IF v_user IS NULL THEN
        RETURN NULL;
    END IF;
    UPDATE public.users SET password_hash = p_password_hash, email_verified = true
     WHERE id = v_user AND is_active;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    DELETE FROM public.sessions WHERE user_id = v_user;
    RETURN v_user;
END;
$$;

-- The signed-in user's new password (the caller has checked the current one); ends
-- every other session of theirs (`p_keep_session`: the hash of the one to keep).
CREATE FUNCTION change_own_password(p_password_hash text, p_keep_session text) RETURNS void
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, public
    AS $$
DECLARE
    v_user uuid := public.current_user_id();
BEGIN
    IF v_user IS NULL THEN
        RAISE EXCEPTION 'change_own_password: no signed-in user' USING ERRCODE = 'insufficient_privilege';
    END IF;
    UPDATE public.users SET password_hash = p_password_hash WHERE id = v_user;
    DELETE FROM public.sessions
     WHERE user_id = v_user AND token_hash IS DISTINCT FROM p_keep_session;
END;
$$;

-- ---------------------------------------------------------------------------------
-- Members leaving: an admin removes a member (who keeps their account and their own
-- rows, in a new personal company of their own, signed out everywhere); the last
-- admin of a company with other members cannot erase their account.
-- ---------------------------------------------------------------------------------

CREATE FUNCTION remove_member(p_user uuid) RETURNS boolean
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, public
    AS $$
DECLARE
    v_company uuid := public.require_company_admin();
    v_username text;
    v_new uuid;
BEGIN
    IF p_user = public.current_user_id() THEN
        RAISE EXCEPTION 'you cannot remove yourself: another admin can, or delete your account'
            USING ERRCODE = 'check_violation';
    END IF;
    SELECT username INTO v_username FROM public.users WHERE id = p_user AND company_id = v_company FOR UPDATE;
    IF v_username IS NULL THEN
        RETURN false;
    END IF;
    INSERT INTO public.companies (name) VALUES (v_username || '''s workspace') RETURNING id INTO v_new;
    UPDATE public.users SET company_id = v_new, role = 'admin' WHERE id = p_user;
    DELETE FROM public.sessions WHERE user_id = p_user;
    UPDATE public.api_tokens SET revoked_at = now() WHERE user_id = p_user AND revoked_at IS NULL;
    RETURN true;
END;
$$;

CREATE OR REPLACE FUNCTION delete_own_account() RETURNS void
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, public
    AS $$
DECLARE
    v_user uuid := current_user_id();
    v_me public.users%ROWTYPE;
BEGIN
    IF v_user IS NULL THEN
        RAISE EXCEPTION 'delete_own_account: no signed-in user' USING ERRCODE = 'insufficient_privilege';
    END IF;
    SELECT * INTO v_me FROM public.users WHERE id = v_user FOR UPDATE;
    IF v_me.role = 'admin' AND v_me.is_active
       AND EXISTS (SELECT 1 FROM public.users WHERE company_id = v_me.company_id AND id <> v_user)
       AND NOT EXISTS (SELECT 1 FROM public.users WHERE company_id = v_me.company_id AND id <> v_user
                                                    AND role = 'admin' AND is_active) THEN
        RAISE EXCEPTION 'the company needs an active admin: make another member admin first'
            USING ERRCODE = 'check_violation';
    END IF;
    DELETE FROM public.users WHERE id = v_user;
    DELETE FROM public.companies c
     WHERE c.id = v_me.company_id AND NOT EXISTS (SELECT 1 FROM public.users u WHERE u.company_id = c.id);
END;
$$;

-- ---------------------------------------------------------------------------------
-- The mail outbox: every mail EverReach sends (verification, invitation, password
-- reset), its body sealed with the installation's key (it holds a link). Without
-- SMTP it is where the operator reads mail (`everreach mail outbox`); with SMTP it
-- records what was sent. Kept 7 days. Not a tenant table: the app only appends.
-- ---------------------------------------------------------------------------------

CREATE TABLE mail_outbox (
    id UUID PRIMARY KEY,
    to_address VARCHAR(255) NOT NULL,
    subject TEXT NOT NULL,
    -- sealed (er2:…), bound to this row
    body TEXT NOT NULL,
    -- held (no SMTP configured), sent, or failed
    status VARCHAR(10) NOT NULL DEFAULT 'held' CHECK (status IN ('held', 'sent', 'failed')),
    error TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    expires_at TIMESTAMPTZ NOT NULL DEFAULT NOW() + interval '7 days'
);
CREATE INDEX idx_mail_outbox_created ON mail_outbox (created_at DESC);
CREATE INDEX idx_mail_outbox_expires ON mail_outbox (expires_at);
COMMENT ON TABLE mail_outbox IS 'Mail sent or held for the operator (body sealed); 7 days.';

-- ---------------------------------------------------------------------------------
-- Purge: expired idempotency keys, sessions, links, invitations and mail. Called by
-- the maintenance schedule; returns how many rows of each went.
-- ---------------------------------------------------------------------------------

CREATE FUNCTION purge_expired_credentials() RETURNS jsonb
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, public
    AS $$
DECLARE
    v_out jsonb := '{}';
    v_n bigint;
BEGIN
    DELETE FROM public.idempotency_keys WHERE created_at < now() - interval '24 hours';
    GET DIAGNOSTICS v_n = ROW_COUNT; v_out := v_out || jsonb_build_object('idempotency_keys', v_n);
    DELETE FROM public.sessions WHERE expires_at < now();
    GET DIAGNOSTICS v_n = ROW_COUNT; v_out := v_out || jsonb_build_object('sessions', v_n);
    DELETE FROM public.email_verification_tokens WHERE expires_at < now();
    GET DIAGNOSTICS v_n = ROW_COUNT; v_out := v_out || jsonb_build_object('email_verification_tokens', v_n);
    DELETE FROM public.password_reset_tokens WHERE expires_at < now();
    GET DIAGNOSTICS v_n = ROW_COUNT; v_out := v_out || jsonb_build_object('password_reset_tokens', v_n);
    DELETE FROM public.company_invitations WHERE expires_at < now();
    GET DIAGNOSTICS v_n = ROW_COUNT; v_out := v_out || jsonb_build_object('company_invitations', v_n);
    DELETE FROM public.mail_outbox WHERE expires_at < now();
    GET DIAGNOSTICS v_n = ROW_COUNT; v_out := v_out || jsonb_build_object('mail_outbox', v_n);
    RETURN v_out;
END;
$$;

GRANT SELECT, INSERT, UPDATE, DELETE ON public.company_invitations TO everreach_definer;
GRANT SELECT, INSERT, DELETE ON public.password_reset_tokens TO everreach_definer;
GRANT SELECT, DELETE ON public.idempotency_keys, public.mail_outbox TO everreach_definer;
GRANT DELETE ON public.sessions, public.email_verification_tokens TO everreach_definer;
GRANT UPDATE (password_hash, email_verified, company_id, role) ON public.users TO everreach_definer;
GRANT INSERT ON public.companies TO everreach_definer;

DO $$
DECLARE
    f text;
BEGIN
    FOREACH f IN ARRAY ARRAY[
        'invite_member(text, user_role, text, timestamptz)', 'company_invitation_list()',
        'revoke_invitation(uuid)', 'resend_invitation(uuid, text, timestamptz)',
        'accept_invitation(text, text)', 'password_reset_request(text, text, timestamptz)',
        'password_reset_confirm(text, text)', 'change_own_password(text, text)',
        'remove_member(uuid)', 'delete_own_account()', 'purge_expired_credentials()'
    ] LOOP
        EXECUTE format('ALTER FUNCTION %s OWNER TO everreach_definer', f);
        EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO everreach_app', f);
    END LOOP;
END
$$;

-- ---------------------------------------------------------------------------------
-- Grants, again (re-run after every migration): as in …100000 (person_merges
-- append-only), plus the columns a user
-- may not change by a plain UPDATE of their own row (email, email_verified,
-- password_hash: only the functions above change them), no grant on the
-- invitations, and append-only mail.
-- ---------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION everreach_grant_app() RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, public
    AS $$
DECLARE
    t record;
    v_cols text;
BEGIN
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO everreach_app', current_database());
    GRANT USAGE ON SCHEMA public, analytics, ml_data TO everreach_app;

    -- Every table holding a tenant's rows (it has user_id) must have its wall. audit_log
    -- names the actor in user_id but is not a tenant table; the app only appends to it.
    -- jobs names the tenant a job acts for, but is one queue for all (DESIGN §1).
    FOR t IN
        SELECT c.oid::regclass AS rel
          FROM pg_class c
          JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
           AND n.nspname IN ('public', 'analytics', 'ml_data')
           AND NOT (n.nspname = 'public' AND c.relname IN ('audit_log', 'jobs'))
           AND EXISTS (SELECT 1 FROM pg_attribute a
                        WHERE a.attrelid = c.oid AND a.attname = 'user_id' AND NOT a.attisdropped)
           AND NOT (c.relrowsecurity AND c.relforcerowsecurity
                    AND EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid))
    LOOP
        RAISE EXCEPTION 'everreach_grant_app: tenant table % has no forced row-level security with a policy; call everreach_tenant_rls(''%'') in its migration', t.rel, t.rel;
    END LOOP;

    FOR t IN
        SELECT c.oid::regclass AS rel, n.nspname, c.relname, c.relispartition
          FROM pg_class c
          JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind IN ('r', 'p')
           AND n.nspname IN ('public', 'analytics', 'ml_data')
           AND NOT EXISTS (SELECT 1 FROM pg_depend d
                            WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
         ORDER BY 2, 3
    LOOP
        IF t.relispartition THEN
            -- partitions have no policies: reached directly they would show every tenant
            EXECUTE format('REVOKE ALL ON %s FROM everreach_app', t.rel);
        ELSIF t.nspname = 'public' AND t.relname IN ('users', 'companies') THEN
            -- own row / own company only (RLS); no INSERT or DELETE; column grants keep
            -- privilege, membership and sign-in columns out of the app's reach
            SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum) INTO v_cols
              FROM pg_attribute a
             WHERE a.attrelid = t.rel AND a.attnum > 0 AND NOT a.attisdropped
               AND a.attgenerated = ''
               AND a.attname <> ALL (CASE t.relname
                   WHEN 'users' THEN ARRAY['id', 'company_id', 'role', 'subscription_tier', 'is_active',
                                           'created_at', 'email', 'email_verified', 'password_hash']
                   ELSE ARRAY['id', 'api_limits', 'is_active', 'created_at'] END);
            EXECUTE format('REVOKE ALL ON %s FROM everreach_app', t.rel);
            EXECUTE format('GRANT SELECT ON %s TO everreach_app', t.rel);
            EXECUTE format('GRANT UPDATE (%s) ON %s TO everreach_app', v_cols, t.rel);
        ELSIF t.nspname = 'public' AND t.relname IN ('_sqlx_migrations', 'company_invitations') THEN
            -- the migration history is the admin's; invitations only through functions
            EXECUTE format('REVOKE ALL ON %s FROM everreach_app', t.rel);
        ELSIF t.nspname = 'public' AND t.relname = 'person_merges' THEN
            -- append-only: rows go with their tenant or, once the people they name
            -- are erased, through erase_person_audit(). UPDATE is granted only
            -- because an undo locks its merge FOR UPDATE (which needs it); the
            -- append-only trigger refuses every actual UPDATE.
            EXECUTE format('REVOKE ALL ON %s FROM everreach_app', t.rel);
            EXECUTE format('GRANT SELECT, INSERT, UPDATE ON %s TO everreach_app', t.rel);
        ELSIF t.nspname = 'public' AND t.relname IN ('audit_log', 'mail_outbox') THEN
            -- append-only, and it holds every tenant's rows: no reading back
            EXECUTE format('REVOKE ALL ON %s FROM everreach_app', t.rel);
            EXECUTE format('GRANT INSERT ON %s TO everreach_app', t.rel);
        ELSE
            EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %s TO everreach_app', t.rel);
        END IF;
    END LOOP;

    GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public, analytics, ml_data TO everreach_app;

    GRANT EXECUTE ON FUNCTION
        current_user_id(), current_actor(), current_company_id(), current_user_role(),
        voice_profile_has_sibling(uuid, uuid),
        log_event(uuid, varchar, uuid, varchar, jsonb, jsonb),
        create_monthly_partitions(date, date)
        TO everreach_app;

    -- What the SECURITY DEFINER functions owned by everreach_definer read.
    GRANT USAGE ON SCHEMA public TO everreach_definer;
    GRANT SELECT ON users, voice_profiles TO everreach_definer;
END;
$$;

SELECT everreach_grant_app();

-- The app role's timeouts for direct logins (psql with `everreach db url`); the app's
-- own pool sets the same on every connection. A migrating role that may not alter
-- everreach_app (an external database set up by an administrator) leaves a notice.
DO $$
BEGIN
    ALTER ROLE everreach_app SET statement_timeout = '60s';
    ALTER ROLE everreach_app SET idle_in_transaction_session_timeout = '60s';
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'everreach_app keeps its own timeouts: run ALTER ROLE everreach_app SET statement_timeout = ''60s'' as an administrator';
END
$$;

-- Idempotency: a response that carried a credential (a new API token) is not kept;
-- a replay says so instead of showing the credential again.
ALTER TABLE idempotency_keys ADD COLUMN credential_withheld BOOLEAN NOT NULL DEFAULT false;

-- Event subscriptions: the dedupe key names the tenant, so one tenant's live job for an
-- entity never swallows another tenant's event about an entity with the same id.
CREATE OR REPLACE FUNCTION events_enqueue_subscribers() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, public
    AS $$
DECLARE
    v_queue text;
BEGIN
    FOR v_queue IN
        WITH sent AS (
            INSERT INTO public.jobs (name, data, user_id, singleton_key)
            SELECT s.queue,
                   jsonb_build_object('event_id', NEW.id, 'event_type', NEW.event_type,
                                      'entity_type', NEW.entity_type, 'entity_id', NEW.entity_id),
                   NEW.user_id,
                   CASE WHEN s.dedupe_by_entity
                        THEN coalesce(NEW.user_id::text, '-') || ':' || md5(NEW.entity_type || ':' || NEW.entity_id::text) END
              FROM public.event_subscriptions s
             WHERE NEW.event_type LIKE s.event_type_pattern
            ON CONFLICT DO NOTHING
            RETURNING name)
        SELECT DISTINCT name FROM sent
    LOOP
        -- log_event() already NOTIFYs in this transaction, so waking the queue is free.
        PERFORM pg_notify('jobs', v_queue);
    END LOOP;
    RETURN NULL;
END;
$$;
