-- Owns: row-level security on every table, the policies, the SECURITY DEFINER helpers
-- the policies call, and everreach_grant_app().
-- Seeds: 004 (RLS on all tables, its per-command rules), 003 (user_data_policy on
-- content). DESIGN "Runtime shape"/Tenancy: RLS enabled and FORCED (the owner is
-- filtered too); the app connects as everreach_app, which owns nothing and has no
-- BYPASSRLS; each request sets app.user_id transaction-locally. Policies compare with
-- (SELECT current_user_id()) so the setting is read once per statement, not per row.

-- ---------------------------------------------------------------------------------
-- Helpers that read users or voice_profiles from inside a policy. A policy that reads
-- its own table fails with "infinite recursion detected in policy", and an inlined SQL
-- function would too; SECURITY DEFINER functions are never inlined. They belong to
-- everreach_definer (BYPASSRLS) because FORCE applies to the table owner as well, pin
-- their search_path, and answer only about the current tenant.
-- ---------------------------------------------------------------------------------

CREATE FUNCTION current_company_id() RETURNS uuid
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, public
    AS $$ SELECT company_id FROM public.users WHERE id = public.current_user_id() $$;

COMMENT ON FUNCTION current_company_id() IS 'Company of the current tenant (app.user_id); NULL when unset.';

CREATE FUNCTION current_user_role() RETURNS user_role
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, public
    AS $$ SELECT role FROM public.users WHERE id = public.current_user_id() $$;

COMMENT ON FUNCTION current_user_role() IS 'users.role of the current tenant (app.user_id); NULL when unset.';

-- 004: a user cannot delete their only voice profile.
CREATE FUNCTION voice_profile_has_sibling(p_user_id uuid, p_id uuid) RETURNS boolean
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, public
    AS $$
    SELECT EXISTS (
        SELECT 1 FROM public.voice_profiles
         WHERE user_id = p_user_id AND id <> p_id
           AND p_user_id = public.current_user_id())
$$;

COMMENT ON FUNCTION voice_profile_has_sibling(uuid, uuid) IS
    'True when the current tenant p_user_id has a voice profile other than p_id (DELETE policy of voice_profiles).';

ALTER FUNCTION current_company_id() OWNER TO everreach_definer;
ALTER FUNCTION current_user_role() OWNER TO everreach_definer;
ALTER FUNCTION voice_profile_has_sibling(uuid, uuid) OWNER TO everreach_definer;
REVOKE ALL ON FUNCTION current_company_id() FROM PUBLIC;
REVOKE ALL ON FUNCTION current_user_role() FROM PUBLIC;
REVOKE ALL ON FUNCTION voice_profile_has_sibling(uuid, uuid) FROM PUBLIC;

-- ---------------------------------------------------------------------------------
-- The standard tenant wall, for later migrations too: enable and force RLS and allow
-- every command on the current tenant's rows only. WITH CHECK repeats the test so an
-- INSERT or UPDATE cannot write a row into another tenant.
-- ---------------------------------------------------------------------------------

CREATE FUNCTION everreach_tenant_rls(p_table regclass) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, public
    AS $$
BEGIN
    EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', p_table);
    EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', p_table);
    EXECUTE format(
        'CREATE POLICY tenant_isolation ON %s FOR ALL'
        ' USING (user_id = (SELECT current_user_id()))'
        ' WITH CHECK (user_id = (SELECT current_user_id()))', p_table);
END;
$$;

COMMENT ON FUNCTION everreach_tenant_rls(regclass) IS
    'Enables and forces RLS on a tenant table and adds policy tenant_isolation (user_id = current_user_id()).';

REVOKE ALL ON FUNCTION everreach_tenant_rls(regclass) FROM PUBLIC;

SELECT everreach_tenant_rls(t) FROM unnest(ARRAY[
    -- people graph (000)
    'people', 'identities', 'person_events', 'person_insights', 'segments',
    'segment_members', 'segment_insights', 'outbound_messages',
    -- content graph and connectors (000)
    'content_items', 'content_experiments', 'content_variants', 'content_metrics',
    'content_rollups', 'ig_connections', 'connector_configs',
    -- instagram crm (001)
    'instagram_contacts', 'instagram_conversations', 'instagram_messages',
    'automation_patterns', 'next_best_actions', 'fit_signals', 'outreach_queue',
    -- accounts, mail, ai, platform (002)
    'accounts', 'organizations', 'contacts', 'emails', 'email_message_keys',
    'email_interactions', 'contact_stats', 'enrichments', 'ai_agents',
    'ai_conversations', 'ai_messages', 'agent_executions', 'public.events', 'user_analytics',
    -- studio and analytics (003)
    'user_profiles', 'content_performance', 'analytics.events',
    'analytics.performance_metrics', 'ml_data.content_embeddings',
    'ml_data.user_preference_embeddings'
]::regclass[]) AS t;

-- ---------------------------------------------------------------------------------
-- 003: content and campaigns name a company, which must be the tenant's own (DESIGN:
-- "a row that names a company names the actor's own"). 003's policy name is kept.
-- ---------------------------------------------------------------------------------

ALTER TABLE content ENABLE ROW LEVEL SECURITY;
ALTER TABLE content FORCE ROW LEVEL SECURITY;
CREATE POLICY user_data_policy ON content FOR ALL
    USING (user_id = (SELECT current_user_id()))
    WITH CHECK (user_id = (SELECT current_user_id()) AND company_id = (SELECT current_company_id()));

ALTER TABLE campaigns ENABLE ROW LEVEL SECURITY;
ALTER TABLE campaigns FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON campaigns FOR ALL
    USING (user_id = (SELECT current_user_id()))
    WITH CHECK (user_id = (SELECT current_user_id()) AND company_id = (SELECT current_company_id()));

-- ---------------------------------------------------------------------------------
-- 004's tables: one policy per command, following 004's wording.
-- ---------------------------------------------------------------------------------

ALTER TABLE platform_connections ENABLE ROW LEVEL SECURITY;
ALTER TABLE platform_connections FORCE ROW LEVEL SECURITY;
CREATE POLICY platform_connections_select ON platform_connections FOR SELECT
    USING (user_id = (SELECT current_user_id()));
CREATE POLICY platform_connections_insert ON platform_connections FOR INSERT
    WITH CHECK (user_id = (SELECT current_user_id()));
CREATE POLICY platform_connections_update ON platform_connections FOR UPDATE
    USING (user_id = (SELECT current_user_id()))
    WITH CHECK (user_id = (SELECT current_user_id()));
CREATE POLICY platform_connections_delete ON platform_connections FOR DELETE
    USING (user_id = (SELECT current_user_id()));

ALTER TABLE content_adaptations ENABLE ROW LEVEL SECURITY;
ALTER TABLE content_adaptations FORCE ROW LEVEL SECURITY;
CREATE POLICY content_adaptations_select ON content_adaptations FOR SELECT
    USING (user_id = (SELECT current_user_id()));
CREATE POLICY content_adaptations_insert ON content_adaptations FOR INSERT
    WITH CHECK (user_id = (SELECT current_user_id()));
CREATE POLICY content_adaptations_update ON content_adaptations FOR UPDATE
    USING (user_id = (SELECT current_user_id()))
    WITH CHECK (user_id = (SELECT current_user_id()));
CREATE POLICY content_adaptations_delete ON content_adaptations FOR DELETE
    USING (user_id = (SELECT current_user_id()));

-- "Users can delete their own profiles (if not only profile)". Deleting a user still
-- removes every profile: a cascade's delete is not subject to these policies.
ALTER TABLE voice_profiles ENABLE ROW LEVEL SECURITY;
ALTER TABLE voice_profiles FORCE ROW LEVEL SECURITY;
CREATE POLICY voice_profiles_select ON voice_profiles FOR SELECT
    USING (user_id = (SELECT current_user_id()));
CREATE POLICY voice_profiles_insert ON voice_profiles FOR INSERT
    WITH CHECK (user_id = (SELECT current_user_id()));
CREATE POLICY voice_profiles_update ON voice_profiles FOR UPDATE
    USING (user_id = (SELECT current_user_id()))
    WITH CHECK (user_id = (SELECT current_user_id()));
CREATE POLICY voice_profiles_delete ON voice_profiles FOR DELETE
    USING (user_id = (SELECT current_user_id()) AND voice_profile_has_sibling(user_id, id));

-- "Users can delete their own unpublished posts".
ALTER TABLE published_posts ENABLE ROW LEVEL SECURITY;
ALTER TABLE published_posts FORCE ROW LEVEL SECURITY;
CREATE POLICY published_posts_select ON published_posts FOR SELECT
    USING (user_id = (SELECT current_user_id()));
CREATE POLICY published_posts_insert ON published_posts FOR INSERT
    WITH CHECK (user_id = (SELECT current_user_id()));
CREATE POLICY published_posts_update ON published_posts FOR UPDATE
    USING (user_id = (SELECT current_user_id()))
    WITH CHECK (user_id = (SELECT current_user_id()));
CREATE POLICY published_posts_delete ON published_posts FOR DELETE
    USING (user_id = (SELECT current_user_id()) AND status <> 'published');

-- "Users can modify / cancel their own unprocessed posts": unprocessed means pending
-- or scheduled (DESIGN §9). A user may move such a post only to pending, scheduled or
-- cancelled; the job runner (app.actor = 'worker') moves posts through processing to
-- published or failed.
ALTER TABLE scheduled_posts ENABLE ROW LEVEL SECURITY;
ALTER TABLE scheduled_posts FORCE ROW LEVEL SECURITY;
CREATE POLICY scheduled_posts_select ON scheduled_posts FOR SELECT
    USING (user_id = (SELECT current_user_id()));
CREATE POLICY scheduled_posts_insert ON scheduled_posts FOR INSERT
    WITH CHECK (user_id = (SELECT current_user_id())
                AND (status IN ('pending', 'scheduled') OR (SELECT current_actor()) = 'worker'));
CREATE POLICY scheduled_posts_update ON scheduled_posts FOR UPDATE
    USING (user_id = (SELECT current_user_id())
           AND (status IN ('pending', 'scheduled') OR (SELECT current_actor()) = 'worker'))
    WITH CHECK (user_id = (SELECT current_user_id())
                AND (status IN ('pending', 'scheduled', 'cancelled') OR (SELECT current_actor()) = 'worker'));
CREATE POLICY scheduled_posts_delete ON scheduled_posts FOR DELETE
    USING (user_id = (SELECT current_user_id())
           AND (status IN ('pending', 'scheduled') OR (SELECT current_actor()) = 'worker'));

-- ---------------------------------------------------------------------------------
-- users and companies are not tenant tables (reference tables when sharded), but a
-- user sees only themselves, and a company admin also sees the company's members.
-- 004: "INSERT: service role only" — there is no INSERT or DELETE policy; sign-up is
-- a SECURITY DEFINER function. Which columns a user may change is decided by the
-- column grants in everreach_grant_app() (not role, subscription_tier, is_active,
-- company_id).
-- ---------------------------------------------------------------------------------

ALTER TABLE users ENABLE ROW LEVEL SECURITY;
ALTER TABLE users FORCE ROW LEVEL SECURITY;
CREATE POLICY users_select ON users FOR SELECT
    USING (id = (SELECT current_user_id())
           OR (company_id = (SELECT current_company_id()) AND (SELECT current_user_role()) = 'admin'));
CREATE POLICY users_update ON users FOR UPDATE
    USING (id = (SELECT current_user_id()))
    WITH CHECK (id = (SELECT current_user_id()));

ALTER TABLE companies ENABLE ROW LEVEL SECURITY;
ALTER TABLE companies FORCE ROW LEVEL SECURITY;
CREATE POLICY companies_select ON companies FOR SELECT
    USING (id = (SELECT current_company_id()));
CREATE POLICY companies_update ON companies FOR UPDATE
    USING (id = (SELECT current_company_id()) AND (SELECT current_user_role()) = 'admin')
    WITH CHECK (id = (SELECT current_company_id()));

-- ---------------------------------------------------------------------------------
-- Grants. Re-run by `everreach migrate` after every run, so it must converge: it
-- grants what the app may do on every table that exists now, and refuses to run while
-- a tenant table has no forced RLS (a new table without a wall fails loudly here).
-- ---------------------------------------------------------------------------------

CREATE FUNCTION everreach_grant_app() RETURNS void
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
            -- privilege and membership columns out of the app's reach
            SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum) INTO v_cols
              FROM pg_attribute a
             WHERE a.attrelid = t.rel AND a.attnum > 0 AND NOT a.attisdropped
               AND a.attgenerated = ''
               AND a.attname <> ALL (CASE t.relname
                   WHEN 'users' THEN ARRAY['id', 'company_id', 'role', 'subscription_tier', 'is_active', 'created_at']
                   ELSE ARRAY['id', 'api_limits', 'is_active', 'created_at'] END);
            EXECUTE format('REVOKE ALL ON %s FROM everreach_app', t.rel);
            EXECUTE format('GRANT SELECT ON %s TO everreach_app', t.rel);
            EXECUTE format('GRANT UPDATE (%s) ON %s TO everreach_app', v_cols, t.rel);
        ELSIF t.nspname = 'public' AND t.relname = '_sqlx_migrations' THEN
            -- the migration history is the admin's; the app must not rewrite it
            EXECUTE format('REVOKE ALL ON %s FROM everreach_app', t.rel);
        ELSIF t.nspname = 'public' AND t.relname = 'audit_log' THEN
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

COMMENT ON FUNCTION everreach_grant_app() IS
    'Grants everreach_app what it may do on every table, sequence and function that exists now; run after every migrate. Fails if a tenant table lacks forced RLS.';

REVOKE ALL ON FUNCTION everreach_grant_app() FROM PUBLIC;

SELECT everreach_grant_app();
