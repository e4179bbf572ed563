-- Person references and erasure (issue 10).
--
-- * The app role may read and add merge records, never delete them: a merge record
--   is the only way back from a merge. everreach_grant_app() (re-run after every
--   migration) no longer grants DELETE on person_merges.
-- * erase_person_audit(people, records) replaces erase_person_audit(person): given
--   the erased person and everyone merged into them, and the ids of their channel
--   records (contacts, instagram_contacts), it refuses while any of those people
--   still exists, deletes the merge records naming any of them, and scrubs every
--   audit row holding their values: rows naming them by person_id, their people
--   rows, and the rows of their channel records and those records' children (an
--   instagram_messages row names its contact by contact_id and holds message_text).
--   Scrubbed rows keep who/when/which table; their values become
--   {"erased": true, "id": …}.

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
        ELSIF t.nspname = 'public' AND t.relname = 'person_merges' THEN
            -- append-only: rows go with their tenant or, once the people they name
            -- are erased, through erase_person_audit(). UPDATE is granted only
            -- because an undo locks its merge FOR UPDATE (which needs it); the
            -- append-only trigger refuses every actual UPDATE.
            EXECUTE format('REVOKE ALL ON %s FROM everreach_app', t.rel);
            EXECUTE format('GRANT SELECT, INSERT, UPDATE ON %s TO everreach_app', t.rel);
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

DROP FUNCTION erase_person_audit(uuid);

CREATE FUNCTION erase_person_audit(p_people uuid[], p_records uuid[],
                                   OUT merges bigint, OUT scrubbed bigint)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public
    AS $$
DECLARE
    v_user uuid := nullif(current_setting('app.user_id', true), '')::uuid;
    v_people text[] := p_people::text[];
    v_records text[] := coalesce(p_records, '{}')::text[];
BEGIN
    IF v_user IS NULL THEN
        RAISE EXCEPTION 'no tenant is set' USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF EXISTS (SELECT 1 FROM public.people WHERE user_id = v_user AND id = ANY (p_people)) THEN
        RAISE EXCEPTION 'erase_person_audit: a person given still exists; delete them first'
            USING ERRCODE = 'object_in_use';
    END IF;
    DELETE FROM public.person_merges m
     WHERE m.user_id = v_user AND (m.survivor_id = ANY (p_people) OR m.merged_id = ANY (p_people));
    GET DIAGNOSTICS merges = ROW_COUNT;
    UPDATE public.audit_log a
       SET old_values = CASE WHEN a.old_values IS NULL THEN NULL
                             ELSE jsonb_build_object('erased', true, 'id', a.old_values->'id') END,
           new_values = CASE WHEN a.new_values IS NULL THEN NULL
                             ELSE jsonb_build_object('erased', true, 'id', a.new_values->'id') END
     WHERE a.user_id = v_user
       AND (a.old_values->>'person_id' = ANY (v_people) OR a.new_values->>'person_id' = ANY (v_people)
            OR (a.table_name = 'people'
                AND (a.old_values->>'id' = ANY (v_people) OR a.new_values->>'id' = ANY (v_people)))
            OR (a.table_name IN ('contacts', 'instagram_contacts')
                AND (a.old_values->>'id' = ANY (v_records) OR a.new_values->>'id' = ANY (v_records)))
            OR a.old_values->>'contact_id' = ANY (v_records) OR a.new_values->>'contact_id' = ANY (v_records));
    GET DIAGNOSTICS scrubbed = ROW_COUNT;
END;
$$;
GRANT SELECT ON public.people TO everreach_definer;
GRANT SELECT, DELETE ON public.person_merges TO everreach_definer;
ALTER FUNCTION erase_person_audit(uuid[], uuid[]) OWNER TO everreach_definer;
REVOKE ALL ON FUNCTION erase_person_audit(uuid[], uuid[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION erase_person_audit(uuid[], uuid[]) TO everreach_app;
