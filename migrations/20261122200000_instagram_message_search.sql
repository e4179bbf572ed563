-- Issue 13: 001's message search (`m.message_text ILIKE '%AI%'`) served by a trigram
-- index, not a scan of every message (crates/core/src/crm/queries.rs).
CREATE INDEX idx_instagram_messages_text_trgm ON instagram_messages USING gin (message_text gin_trgm_ops);

-- Under row-level security the planner may not use an index for ILIKE (not LEAKPROOF:
-- it may not see a row before the policy has passed it), so the app role's search
-- would read every message of its tenant. This function reads as everreach_definer
-- (BYPASSRLS) and applies the tenant itself — the transaction's app.user_id, as the
-- policies do, never an argument — returning the newest matching messages' ids; the
-- caller joins them under the policies again. $1 is an ILIKE pattern (the caller
-- escapes %, _ and \), $2 the most rows. Patterns under 3 characters give the trigram
-- index nothing to look up; the planner then reads the messages newest first.
CREATE FUNCTION everreach_instagram_message_hits(p_pattern text, p_limit integer)
    RETURNS TABLE (message_id uuid)
    LANGUAGE sql STABLE SECURITY DEFINER ROWS 20
    SET search_path = pg_catalog, public
    AS $$
SELECT id FROM instagram_messages
 WHERE user_id = current_user_id() AND message_text ILIKE $1
 ORDER BY sent_at DESC, id
 LIMIT $2
$$;

GRANT SELECT (id, user_id, message_text, sent_at) ON instagram_messages TO everreach_definer;
ALTER FUNCTION everreach_instagram_message_hits(text, integer) OWNER TO everreach_definer;
REVOKE ALL ON FUNCTION everreach_instagram_message_hits(text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION everreach_instagram_message_hits(text, integer) TO everreach_app;
