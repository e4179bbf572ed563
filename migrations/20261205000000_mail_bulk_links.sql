-- Issue 14: the mbox importer's keys and links checked once per batch, not once per row.
--
-- email_message_keys and email_interactions reference the partitioned emails. A
-- foreign-key check into a partitioned table runs a generic plan with run-time
-- partition pruning for every row. Measured on PostgreSQL 18 with 22 monthly
-- partitions: 43 µs a row for email_interactions' key to emails, against 0.8 µs
-- for its key to contacts, in the same statement. An import of 100,000 messages
-- spent 25 s in that check and 19 s in the deferred one of email_message_keys at
-- COMMIT (of 55 s in all).
--
-- These two functions do the importer's writes of those tables with the same rules
-- checked once per batch instead, as a join:
--   * everreach_claim_message_keys inserts a batch's keys (ON CONFLICT DO NOTHING)
--     and returns the new ones, as the importer's own statement did;
--   * everreach_link_mail, called after the batch's emails are inserted, first
--     checks that every e-mail the claimed keys name exists for the tenant, and that
--     every link's e-mail and contact exist for the tenant. If one does not, it
--     raises foreign_key_violation (23503), naming the row, and the whole batch
--     rolls back. Only then does it insert the links.
--
-- Both write with session_replication_role = replica (set locally, and reset
-- before they return), so the row-by-row checks do not run a second time. These
-- RI triggers are the only triggers on the two tables.
--
-- The tenant is the transaction's own (app.user_id, set by TenantTx), never an
-- argument, so a caller cannot write another tenant's rows. The constraints stay
-- declared and checked for every other write.
--
-- Where the owner may not set session_replication_role (a non-superuser owner
-- under DATABASE_URL), the functions insert normally and the row-by-row checks run
-- as before: same result, slower.

CREATE FUNCTION everreach_bulk_writes_begin() RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public
    AS $$
BEGIN
    SET LOCAL session_replication_role = replica;
    RETURN true;
EXCEPTION WHEN insufficient_privilege THEN
    RETURN false;
END;
$$;
COMMENT ON FUNCTION everreach_bulk_writes_begin() IS
    'Issue 14. For the mail bulk functions only: replica mode for the rest of the statement''s function, when the owner may set it.';
REVOKE ALL ON FUNCTION everreach_bulk_writes_begin() FROM PUBLIC;

CREATE FUNCTION everreach_tenant() RETURNS uuid
    LANGUAGE plpgsql STABLE
    AS $$
DECLARE
    v text := current_setting('app.user_id', true);
BEGIN
    IF v IS NULL OR v = '' THEN
        RAISE EXCEPTION 'no tenant: call this in a tenant transaction (app.user_id)'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN v::uuid;
END;
$$;
COMMENT ON FUNCTION everreach_tenant() IS
    'Issue 14. The tenant of the current transaction (app.user_id), or an error when none is set.';

CREATE FUNCTION everreach_claim_message_keys(p_keys text[], p_email_ids uuid[], p_dates timestamptz[])
    RETURNS SETOF text
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public
    AS $$
DECLARE
    v_user uuid := everreach_tenant();
    v_fast boolean := everreach_bulk_writes_begin();
BEGIN
    RETURN QUERY
        INSERT INTO email_message_keys (user_id, internet_message_id, email_id, email_internal_date)
        SELECT v_user, k, i, d FROM unnest(p_keys, p_email_ids, p_dates) AS u(k, i, d)
        ON CONFLICT DO NOTHING
        RETURNING internet_message_id;
    IF v_fast THEN
        SET LOCAL session_replication_role = origin;
    END IF;
END;
$$;
COMMENT ON FUNCTION everreach_claim_message_keys(text[], uuid[], timestamptz[]) IS
    'Issue 14. The mbox importer''s batch of Message-ID keys; their e-mails are checked by everreach_link_mail in the same transaction.';
REVOKE ALL ON FUNCTION everreach_claim_message_keys(text[], uuid[], timestamptz[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION everreach_claim_message_keys(text[], uuid[], timestamptz[]) TO everreach_app;

CREATE FUNCTION everreach_link_mail(
    p_key_email_ids uuid[], p_key_dates timestamptz[],
    p_email_ids uuid[], p_dates timestamptz[], p_contacts uuid[], p_types text[])
    RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public
    AS $$
DECLARE
    v_user uuid := everreach_tenant();
    v_fast boolean;
    v_missing text;
    v_count bigint;
BEGIN
    -- every e-mail a claimed key or a link names is the tenant's
    SELECT u.i::text || ' at ' || u.d::text INTO v_missing
      FROM (SELECT * FROM unnest(p_key_email_ids, p_key_dates)
            UNION SELECT * FROM unnest(p_email_ids, p_dates)) AS u(i, d)
     WHERE NOT EXISTS (SELECT 1 FROM emails e
                        WHERE e.user_id = v_user AND e.id = u.i AND e.internal_date = u.d)
     LIMIT 1;
    IF v_missing IS NOT NULL THEN
        RAISE EXCEPTION 'no e-mail % of this tenant for its Message-ID key or link', v_missing
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    SELECT u.c::text INTO v_missing
      FROM unnest(p_contacts) AS u(c)
     WHERE u.c IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM contacts c WHERE c.user_id = v_user AND c.id = u.c)
     LIMIT 1;
    IF v_missing IS NOT NULL THEN
        RAISE EXCEPTION 'no contact % of this tenant for an e-mail link', v_missing
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    v_fast := everreach_bulk_writes_begin();
    INSERT INTO email_interactions (user_id, email_id, email_internal_date, contact_id, interaction_type)
    SELECT v_user, e, d, c, t FROM unnest(p_email_ids, p_dates, p_contacts, p_types) AS u(e, d, c, t);
    GET DIAGNOSTICS v_count = ROW_COUNT;
    IF v_fast THEN
        SET LOCAL session_replication_role = origin;
    END IF;
    RETURN v_count;
END;
$$;
COMMENT ON FUNCTION everreach_link_mail(uuid[], timestamptz[], uuid[], timestamptz[], uuid[], text[]) IS
    'Issue 14. The mbox importer''s batch of email_interactions, with its keys'' and links'' references checked as one join.';
REVOKE ALL ON FUNCTION everreach_link_mail(uuid[], timestamptz[], uuid[], timestamptz[], uuid[], text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION everreach_link_mail(uuid[], timestamptz[], uuid[], timestamptz[], uuid[], text[]) TO everreach_app;
