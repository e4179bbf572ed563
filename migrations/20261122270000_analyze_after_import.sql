-- Issue 14: statistics after a bulk import. A mailbox import fills fresh monthly
-- partitions of emails by the thousand within minutes, long before autovacuum looks
-- at them; planned on empty statistics, the foreign-key checks of
-- email_interactions and email_message_keys and the contact_stats query pick an
-- index that scans the whole partition per row, so an import slows down with its own
-- size (measured: 474 messages/s at 4,000, a statement timeout at 100,000). The
-- importer calls this after its first batches and whenever what it inserted doubles.
-- It is owned by the schema owner (who may ANALYZE), takes no argument and touches
-- only these tables' statistics, so the application role gains nothing else.
CREATE FUNCTION everreach_analyze_mail() RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public
    AS $$
BEGIN
    -- the key and join columns only: sampling skips the bodies' statistics
    ANALYZE emails (user_id, id, internal_date, thread_id, is_sent, account_id),
            email_message_keys, email_interactions,
            contacts (user_id, id, email, person_id, is_deleted, merged_into_id),
            contact_stats;
END;
$$;
COMMENT ON FUNCTION everreach_analyze_mail() IS
    'Issue 14. ANALYZE of the e-mail CRM''s tables, for the mbox importer between batches (fresh partitions have no statistics).';
REVOKE ALL ON FUNCTION everreach_analyze_mail() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION everreach_analyze_mail() TO everreach_app;
