-- Owns: extensions, the analytics and ml_data schemas, the two cluster roles, the
-- tenancy functions every policy calls, and the shared updated_at trigger functions.
-- Seeds: 003 (extensions, schemas, current_user_id()), 002 (update_updated_at),
-- 004 (update_updated_at_column); roles and app.* settings per DESIGN "Runtime shape".

-- pgvector needs a superuser; on a DATABASE_URL server its administrator may have
-- created it already, and IF NOT EXISTS then needs no privilege.
CREATE EXTENSION IF NOT EXISTS vector;
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE EXTENSION IF NOT EXISTS btree_gin;

-- 003 names uuid-ossp but no table uses it (ids come from gen_random_uuid()); the
-- embedded build does not ship it, so it is created only where the server has it.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'uuid-ossp') THEN
        CREATE EXTENSION IF NOT EXISTS "uuid-ossp";
    END IF;
END
$$;

-- 003 creates both schemas; DESIGN §4 puts its ClickHouse tables in analytics and
-- its Pinecone indexes in ml_data.
CREATE SCHEMA IF NOT EXISTS analytics;
CREATE SCHEMA IF NOT EXISTS ml_data;

-- Roles are cluster-global and many databases share one cluster (tests), so each is
-- created only when missing, tolerating a concurrent creator.
DO $$
DECLARE
    r record;
BEGIN
    BEGIN
        CREATE ROLE everreach_app LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN
        NULL;
    WHEN insufficient_privilege THEN
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'everreach_app') THEN
            RAISE EXCEPTION 'migrate: cannot create role everreach_app: % needs CREATEROLE, or an administrator must run: CREATE ROLE everreach_app LOGIN NOBYPASSRLS', current_user;
        END IF;
    END;
    -- An app role that skips RLS would void every tenant wall without any error.
    SELECT rolsuper, rolbypassrls INTO r FROM pg_roles WHERE rolname = 'everreach_app';
    IF r.rolsuper OR r.rolbypassrls THEN
        RAISE EXCEPTION 'migrate: role everreach_app exists with SUPERUSER or BYPASSRLS; row-level security would not apply to the application. Run: ALTER ROLE everreach_app NOSUPERUSER NOBYPASSRLS';
    END IF;

    -- Owner of the SECURITY DEFINER lookups: FORCE ROW LEVEL SECURITY applies to the
    -- table owner too, so only a BYPASSRLS role can read across tenants.
    BEGIN
        CREATE ROLE everreach_definer NOLOGIN BYPASSRLS;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN
        NULL;
    WHEN insufficient_privilege THEN
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'everreach_definer') THEN
            RAISE EXCEPTION 'migrate: cannot create role everreach_definer with BYPASSRLS (the server allows that only to a superuser or a role that has BYPASSRLS itself). Ask the database administrator to run: CREATE ROLE everreach_definer NOLOGIN BYPASSRLS; GRANT everreach_definer TO %;', quote_ident(current_user);
        END IF;
    END;
    IF NOT (SELECT rolbypassrls FROM pg_roles WHERE rolname = 'everreach_definer') THEN
        RAISE EXCEPTION 'migrate: role everreach_definer exists without BYPASSRLS; the sign-in and upkeep lookups cannot work. Run as a superuser: ALTER ROLE everreach_definer BYPASSRLS';
    END IF;

    -- The migrating role hands functions to everreach_definer (ALTER ... OWNER TO),
    -- which a non-superuser may do only as a member of that role.
    IF NOT pg_has_role(current_user, 'everreach_definer', 'MEMBER') THEN
        BEGIN
            EXECUTE format('GRANT everreach_definer TO %I', current_user);
        EXCEPTION WHEN insufficient_privilege THEN
            RAISE EXCEPTION 'migrate: % is not a member of everreach_definer. Ask the database administrator to run: GRANT everreach_definer TO %;', current_user, quote_ident(current_user);
        END;
    END IF;
END
$$;

-- ALTER FUNCTION ... OWNER TO needs the new owner to be able to create in the schema
-- when a non-superuser runs it; everreach_definer cannot log in, so this gives no one
-- new power.
GRANT USAGE, CREATE ON SCHEMA public TO everreach_definer;

-- The tenant of the current transaction. Requests set it with
-- set_config('app.user_id', $1, true); after a RESET the setting reads '' rather than
-- NULL, hence NULLIF. Named by 003's user_data_policy.
CREATE FUNCTION current_user_id() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT NULLIF(current_setting('app.user_id', true), '')::uuid $$;

COMMENT ON FUNCTION current_user_id() IS
    'Tenant of the current transaction (app.user_id, set with set_config(..., true)); NULL when unset.';

-- Who acts besides the tenant: 'worker' (job runner) or 'admin' (a company admin
-- changing a member). A guard against our own mistakes, not a wall against our code.
CREATE FUNCTION current_actor() RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT NULLIF(current_setting('app.actor', true), '') $$;

COMMENT ON FUNCTION current_actor() IS
    'app.actor of the current transaction: worker | admin | NULL (a plain user request).';

-- 002's timestamp trigger; used on every table that has updated_at.
CREATE FUNCTION update_updated_at() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    NEW.updated_at = NOW();
    RETURN NEW;
END;
$$;

-- 004 names the same function differently; it is kept so 004's name resolves, but
-- the triggers use 002's.
CREATE FUNCTION update_updated_at_column() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    NEW.updated_at = NOW();
    RETURN NEW;
END;
$$;
