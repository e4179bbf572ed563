-- Owns: what a company admin may do for the members of their company (003's roles
-- and tiers, DESIGN "Runtime shape": an admin invites others by e-mail and reads
-- and updates its members), invitations, and the admin's view of the audit log.
-- Each is a SECURITY DEFINER function that checks, itself, that the caller is an
-- admin of the same company: the app role can never change a role or tier directly.

-- An invitation to join a company: the invited user exists (without a password)
-- from the moment of the invitation; the link lets them choose one.
CREATE TABLE user_invitations (
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    invited_by UUID REFERENCES users(id) ON DELETE SET NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    expires_at TIMESTAMPTZ NOT NULL,
    accepted_at TIMESTAMPTZ,
    PRIMARY KEY (user_id, token_hash)
);
COMMENT ON TABLE user_invitations IS 'Links that let an invited member set their password; stored as SHA-256.';
SELECT everreach_tenant_rls('user_invitations');

-- Raises unless the caller is an admin; returns their company.
CREATE FUNCTION require_company_admin() RETURNS uuid
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, public
    AS $$
DECLARE
    v_company uuid;
BEGIN
    SELECT company_id INTO v_company FROM public.users
     WHERE id = public.current_user_id() AND role = 'admin' AND is_active;
    IF v_company IS NULL THEN
        RAISE EXCEPTION 'only a company admin may do this' USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN v_company;
END;
$$;

-- Changes a member's role, tier or activation (NULL leaves a value as it is). An
-- admin cannot take the last admin rights of the company away, nor deactivate
-- themselves. Returns false when the user is not a member of the caller's company.
CREATE FUNCTION set_member_access(p_user uuid, p_role user_role, p_tier subscription_tier, p_active boolean)
    RETURNS boolean
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, public
    AS $$
DECLARE
    v_company uuid := public.require_company_admin();
    v_found boolean;
BEGIN
    IF p_user = public.current_user_id() AND (p_active IS FALSE OR (p_role IS NOT NULL AND p_role <> 'admin')) THEN
        IF p_active IS FALSE OR NOT EXISTS (
            SELECT 1 FROM public.users WHERE company_id = v_company AND role = 'admin' AND is_active AND id <> p_user) THEN
            RAISE EXCEPTION 'the company needs an active admin: make another member admin first'
                USING ERRCODE = 'check_violation';
        END IF;
    END IF;
    UPDATE public.users
       SET role = coalesce(p_role, role),
           subscription_tier = coalesce(p_tier, subscription_tier),
           is_active = coalesce(p_active, is_active)
     WHERE id = p_user AND company_id = v_company
    RETURNING true INTO v_found;
    RETURN coalesce(v_found, false);
END;
$$;

-- Invites an e-mail into the caller's company with a role: creates the member (no
-- password yet, a free username) and the invitation whose hash is given. A taken
-- e-mail raises unique_violation on users_email_key.
CREATE FUNCTION invite_member(p_email text, p_role user_role, p_token_hash text, p_expires_at timestamptz)
    RETURNS uuid
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, public
    AS $$
DECLARE
    v_company uuid := public.require_company_admin();
    v_email text := lower(btrim(p_email));
    v_user uuid;
BEGIN
    INSERT INTO public.users (email, username, company_id, role)
    VALUES (v_email, public.free_username(v_email), v_company, p_role)
    RETURNING id INTO v_user;
    INSERT INTO public.user_invitations (user_id, token_hash, invited_by, expires_at)
    VALUES (v_user, p_token_hash, public.current_user_id(), p_expires_at);
    RETURN v_user;
END;
$$;

-- Accepts an invitation: sets the password, marks the e-mail verified (the link
-- reached it). Returns the user, or NULL for an unknown, used or expired link.
CREATE FUNCTION accept_invitation(p_token_hash text, p_password_hash text) RETURNS uuid
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, public
    AS $$
DECLARE
    v_user uuid;
BEGIN
    UPDATE public.user_invitations SET accepted_at = now()
     WHERE token_hash = p_token_hash AND accepted_at IS NULL AND expires_at > now()
    RETURNING user_id INTO v_user;
    IF v_user IS NOT NULL THEN
        UPDATE public.users SET password_hash = p_password_hash, email_verified = true WHERE id = v_user;
    END IF;
    RETURN v_user;
END;
$$;

-- The audit log of the caller's company, newest first, a page at a time: rows
-- written by its members (003's audit_log is not a tenant table; the app may only
-- insert into it).
CREATE FUNCTION company_audit_log(p_before timestamptz, p_before_id uuid, p_limit int)
    RETURNS TABLE (id uuid, table_name varchar, operation varchar, old_values jsonb, new_values jsonb,
                   user_id uuid, "timestamp" timestamptz)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, public
    AS $$
DECLARE
    v_company uuid := public.require_company_admin();
BEGIN
    RETURN QUERY
        SELECT a.id, a.table_name, a.operation, a.old_values, a.new_values, a.user_id, a."timestamp"
          FROM public.audit_log a JOIN public.users u ON u.id = a.user_id
         WHERE u.company_id = v_company
           AND (p_before IS NULL OR (a."timestamp", a.id) < (p_before, p_before_id))
         ORDER BY a."timestamp" DESC, a.id DESC
         LIMIT least(greatest(p_limit, 1), 500);
END;
$$;

CREATE INDEX idx_audit_log_user_time ON audit_log (user_id, "timestamp" DESC, id DESC);

GRANT SELECT ON public.audit_log TO everreach_definer;
GRANT INSERT ON public.users TO everreach_definer;
GRANT UPDATE (password_hash) ON public.users TO everreach_definer;
GRANT SELECT, INSERT, UPDATE ON public.user_invitations TO everreach_definer;

DO $$
DECLARE
    f text;
BEGIN
    FOREACH f IN ARRAY ARRAY[
        'require_company_admin()', 'set_member_access(uuid, user_role, subscription_tier, boolean)',
        'invite_member(text, user_role, text, timestamptz)', 'accept_invitation(text, text)',
        'company_audit_log(timestamptz, uuid, int)'
    ] LOOP
        EXECUTE format('ALTER FUNCTION %s OWNER TO everreach_definer', f);
        EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO everreach_app', f);
    END LOOP;
END
$$;
