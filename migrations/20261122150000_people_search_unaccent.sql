-- Owns: accent-insensitive people search (`júlia` finds Julia, `zoe` finds Zoë) —
-- the `unaccent` extension, everreach_fold(), the trigram indexes over it that
-- replace …110000's lower() ones and everreach_people_search_hits(), through which
-- search reaches them — and everreach_has_users(), the one question the web UI's
-- first-run page asks before anyone has signed up.

CREATE EXTENSION IF NOT EXISTS unaccent;

-- What search compares: the text lower-cased with its accents (and ligatures: æ, ß,
-- ﬁ) spelled out. The SQL-standard body binds unaccent() and its dictionary when the
-- function is created, wherever the extension lives, so no caller's search_path
-- changes it; the pinned search_path is there as on every other function. IMMUTABLE
-- so that indexes may use it: the unaccent rules change only when an administrator
-- edits them, and then these indexes must be rebuilt (REINDEX).
CREATE FUNCTION everreach_fold(text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    SET search_path = pg_catalog, public
    RETURN lower(unaccent('unaccent'::regdictionary, $1));

-- Search reads folded values (core::people::search). person_match_keys keeps its
-- stored values: merge suggestions match e-mails and handles exactly, and
-- `josé@…` and `jose@…` are two addresses. Only the search index folds them.
CREATE INDEX idx_people_full_name_fold_trgm ON people USING gin (everreach_fold(full_name) gin_trgm_ops);
CREATE INDEX idx_people_primary_email_fold_trgm ON people USING gin (everreach_fold(primary_email) gin_trgm_ops);
CREATE INDEX idx_person_match_keys_search_fold_trgm ON person_match_keys
    USING gin (everreach_fold(value) gin_trgm_ops) WHERE kind IN ('handle', 'email');
-- The lower() indexes served search alone (the seeds name none of them); similar-name
-- suggestions keep idx_person_match_keys_name_trgm.
DROP INDEX idx_people_full_name_trgm;
DROP INDEX idx_people_primary_email_trgm;
DROP INDEX idx_person_match_keys_search_trgm;

-- The search's candidates, read through the trigram indexes. Under row-level
-- security the planner may not use an index for LIKE or pg_trgm's `%`: they are not
-- LEAKPROOF, so they may not see a row before the policy has passed it, and the app
-- role's search read every row of its tenant, folding each. This function reads as
-- everreach_definer (BYPASSRLS) and applies the tenant itself — the transaction's
-- app.user_id, as the policies do, never an argument — returning each matching
-- person's id with the value that matched, folded ($1's form, for ranking) and as
-- stored (to show). $1 is the folded query, $2 the same as a LIKE literal.
-- core::people::search ranks these and joins people under the policies again (by
-- primary key: ROWS says a search finds a few people, not a page of the table).
CREATE FUNCTION everreach_people_search_hits(p_query text, p_like text)
    RETURNS TABLE (person_id uuid, folded text, shown text)
    LANGUAGE sql STABLE SECURITY DEFINER ROWS 20
    SET search_path = pg_catalog, public
    AS $$
SELECT id, everreach_fold(full_name), full_name FROM people
 WHERE user_id = current_user_id()
   AND (everreach_fold(full_name) LIKE '%' || $2 || '%' OR everreach_fold(full_name) % $1)
UNION ALL
SELECT id, everreach_fold(primary_email), primary_email FROM people
 WHERE user_id = current_user_id()
   AND (everreach_fold(primary_email) LIKE '%' || $2 || '%' OR everreach_fold(primary_email) % $1)
UNION ALL
SELECT person_id, everreach_fold(value), value FROM person_match_keys
 WHERE user_id = current_user_id() AND kind IN ('handle', 'email')
   AND (everreach_fold(value) LIKE '%' || $2 || '%' OR everreach_fold(value) % $1)
$$;

GRANT SELECT (id, user_id, full_name, primary_email) ON people TO everreach_definer;
GRANT SELECT (user_id, person_id, kind, value) ON person_match_keys TO everreach_definer;
ALTER FUNCTION everreach_people_search_hits(text, text) OWNER TO everreach_definer;
REVOKE ALL ON FUNCTION everreach_people_search_hits(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION everreach_people_search_hits(text, text) TO everreach_app;

-- Whether anyone has signed up yet (the first-run page), across tenants: a yes or
-- no, nothing about who.
CREATE FUNCTION everreach_has_users() RETURNS boolean
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, public
    AS $$ SELECT EXISTS (SELECT 1 FROM public.users) $$;

ALTER FUNCTION everreach_has_users() OWNER TO everreach_definer;
REVOKE ALL ON FUNCTION everreach_has_users() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION everreach_has_users() TO everreach_app;
