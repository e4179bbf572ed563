-- Owns: the record of encryption keys in use, and the cross-tenant functions the
-- foundation needs before a tenant is known: sign-up and the list of tenants.
-- DESIGN §7 (secrets at rest), "Runtime shape" (SECURITY DEFINER lookups).

-- Every key that has sealed a secret, with a check value sealed by it. At start a
-- key still in use here but not configured (or one that fails its check value) stops
-- EverReach before it writes anything with the wrong key. Not a tenant table: keys
-- belong to the installation.
CREATE TABLE encryption_keys (
    key_id TEXT PRIMARY KEY,
    check_value TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    -- set by `everreach keys rotate` once no secret is sealed with this key any more
    retired_at TIMESTAMPTZ
);

COMMENT ON TABLE encryption_keys IS
    'Keys that have sealed secrets (ids only; the keys live outside the database), each with a sealed check value.';

-- The tenants, for work that fans out over all of them (nightly jobs, key rotation).
-- Returns ids only.
CREATE FUNCTION everreach_tenant_ids() RETURNS SETOF uuid
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, public
    AS $$ SELECT id FROM public.users ORDER BY id $$;

-- A username nobody has, from the e-mail's local part (DESIGN §9): `ada`, else
-- `ada2`, `ada3`… Called by the SECURITY DEFINER functions that create users (it
-- reads every user, which only their owner may).
CREATE FUNCTION free_username(p_email text) RETURNS text
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, public
    AS $$
DECLARE
    v_base text := left(regexp_replace(split_part(lower(btrim(p_email)), '@', 1), '[^a-z0-9_.-]', '', 'g'), 90);
    v_username text;
    v_suffix int := 1;
BEGIN
    IF v_base = '' THEN
        v_base := 'user';
    END IF;
    v_username := v_base;
    WHILE EXISTS (SELECT 1 FROM public.users WHERE username = v_username) LOOP
        v_suffix := v_suffix + 1;
        v_username := v_base || v_suffix::text;
    END LOOP;
    RETURN v_username;
END;
$$;

-- Sign-up: the user, their personal company (003's content and campaigns need one)
-- and a free username derived from the e-mail's local part (DESIGN §9). The new
-- user is the admin of their own company. A taken e-mail raises unique_violation on
-- users_email_key, which the API turns into a 409.
CREATE FUNCTION sign_up_user(p_email text, p_password_hash text, p_display_name text)
    RETURNS uuid
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, public
    AS $$
DECLARE
    v_email text := lower(btrim(p_email));
    v_username text;
    v_company uuid;
    v_user uuid;
BEGIN
    IF v_email IS NULL OR v_email !~ '^[^@\s]+@[^@\s]+$' THEN
        RAISE EXCEPTION 'sign_up_user: % is not an e-mail address', p_email
            USING ERRCODE = 'check_violation';
    END IF;
    v_username := public.free_username(v_email);

    INSERT INTO public.companies (name)
    VALUES (coalesce(nullif(btrim(p_display_name), ''), v_username) || '''s workspace')
    RETURNING id INTO v_company;

    INSERT INTO public.users (email, username, password_hash, name, full_name, company_id, role)
    VALUES (v_email, v_username, p_password_hash, p_display_name, p_display_name, v_company, 'admin')
    RETURNING id INTO v_user;
    RETURN v_user;
END;
$$;

GRANT SELECT, INSERT ON public.users, public.companies TO everreach_definer;
ALTER FUNCTION free_username(text) OWNER TO everreach_definer;
REVOKE ALL ON FUNCTION free_username(text) FROM PUBLIC;
ALTER FUNCTION everreach_tenant_ids() OWNER TO everreach_definer;
ALTER FUNCTION sign_up_user(text, text, text) OWNER TO everreach_definer;
REVOKE ALL ON FUNCTION everreach_tenant_ids() FROM PUBLIC;
REVOKE ALL ON FUNCTION sign_up_user(text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION everreach_tenant_ids() TO everreach_app;
GRANT EXECUTE ON FUNCTION sign_up_user(text, text, text) TO everreach_app;
