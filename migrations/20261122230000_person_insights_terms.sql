-- Issue 13, item 1 (insights completed): what `people::insights` stores beyond seed
-- 000's columns to weigh each person's interests against the tenant's people
-- (TF-IDF) and to name their best channel and send hour (docs/SCORING.md).
--
-- Document frequencies: a person's distinct terms (words and two-word phrases of
-- their own messages) are kept on their insights row (`terms`), and
-- `person_term_df` counts, per tenant and term, the people whose row holds it.
-- Statement triggers on `person_insights` keep the counts in step from the
-- statement's old and new rows (transition tables), so every path that writes or
-- removes insights — a recompute, a merge and its undo, an erase, a cascade — keeps
-- them exact at each commit, and a recompute of one person reads the counts of its
-- terms by primary key instead of counting a whole tenant.

ALTER TABLE person_insights
    ADD COLUMN terms TEXT[],
    ADD COLUMN best_channel TEXT,
    ADD COLUMN best_send_hour SMALLINT CHECK (best_send_hour BETWEEN 0 AND 23),
    ADD COLUMN best_send_evidence JSONB;

COMMENT ON COLUMN person_insights.terms IS
    'The distinct words and two-word phrases of the person''s own messages (A to Z), counted into person_term_df by trigger.';
COMMENT ON COLUMN person_insights.best_channel IS
    'The channel they reply on most (else are most active on); evidence in best_send_evidence.';
COMMENT ON COLUMN person_insights.best_send_hour IS
    'The hour of day (0-23, in the user''s time zone) they reply most around; evidence in best_send_evidence.';
COMMENT ON COLUMN person_insights.best_send_evidence IS
    'What best_channel and best_send_hour come from: basis (replies or activity), events, timezone, hours (per hour of day), channel_events, hour_events.';

CREATE TABLE person_term_df (
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    -- a word or two-word phrase; '' counts the people with any term (the N of IDF)
    term TEXT NOT NULL,
    people INTEGER NOT NULL,
    PRIMARY KEY (user_id, term)
);

COMMENT ON TABLE person_term_df IS
    'Per tenant and term: how many people''s person_insights.terms hold it (document frequency); kept by triggers on person_insights.';

SELECT everreach_tenant_rls('person_term_df');

-- Adds the statement's changes of `terms` to person_term_df. Counts go up by one
-- per person who gained a term and down by one per person who lost it; rows at
-- zero are deleted. Rows are written in key order, so two recomputes of one tenant
-- meet in the same order and never deadlock. A delete only updates existing rows:
-- when a user is deleted, their rows may be gone already (and an insert for them
-- would fail its key).
CREATE FUNCTION person_term_df_apply() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_users UUID[];
    v_terms TEXT[];
    v_deltas INTEGER[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT array_agg(user_id ORDER BY user_id, term), array_agg(term ORDER BY user_id, term),
               array_agg(delta ORDER BY user_id, term)
          INTO v_users, v_terms, v_deltas
          FROM (SELECT n.user_id, t.term, count(*)::int AS delta
                  FROM new_rows n
                 CROSS JOIN LATERAL unnest(n.terms || CASE WHEN cardinality(n.terms) > 0 THEN ARRAY[''] END) AS t(term)
                 GROUP BY 1, 2) d;
    ELSIF TG_OP = 'DELETE' THEN
        SELECT array_agg(user_id ORDER BY user_id, term), array_agg(term ORDER BY user_id, term),
               array_agg(delta ORDER BY user_id, term)
          INTO v_users, v_terms, v_deltas
          FROM (SELECT o.user_id, t.term, -count(*)::int AS delta
                  FROM old_rows o
                 CROSS JOIN LATERAL unnest(o.terms || CASE WHEN cardinality(o.terms) > 0 THEN ARRAY[''] END) AS t(term)
                 GROUP BY 1, 2) d;
    ELSE
        SELECT array_agg(user_id ORDER BY user_id, term), array_agg(term ORDER BY user_id, term),
               array_agg(delta ORDER BY user_id, term)
          INTO v_users, v_terms, v_deltas
          FROM (SELECT user_id, term, sum(delta)::int AS delta
                  FROM (SELECT n.user_id, t.term, 1 AS delta
                          FROM new_rows n
                         CROSS JOIN LATERAL unnest(n.terms || CASE WHEN cardinality(n.terms) > 0 THEN ARRAY[''] END) AS t(term)
                        UNION ALL
                        SELECT o.user_id, t.term, -1
                          FROM old_rows o
                         CROSS JOIN LATERAL unnest(o.terms || CASE WHEN cardinality(o.terms) > 0 THEN ARRAY[''] END) AS t(term)) x
                 GROUP BY 1, 2
                HAVING sum(delta) <> 0) d;
    END IF;
    IF v_terms IS NULL THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'DELETE' THEN
        PERFORM 1 FROM person_term_df f
          JOIN unnest(v_users, v_terms) AS d(user_id, term) ON f.user_id = d.user_id AND f.term = d.term
         ORDER BY f.user_id, f.term
           FOR UPDATE OF f;
        UPDATE person_term_df f SET people = f.people + d.delta
          FROM unnest(v_users, v_terms, v_deltas) AS d(user_id, term, delta)
         WHERE f.user_id = d.user_id AND f.term = d.term;
    ELSE
        INSERT INTO person_term_df AS f (user_id, term, people)
        SELECT d.user_id, d.term, d.delta
          FROM unnest(v_users, v_terms, v_deltas) AS d(user_id, term, delta)
         ORDER BY d.user_id, d.term
        ON CONFLICT (user_id, term) DO UPDATE SET people = f.people + EXCLUDED.people;
    END IF;
    DELETE FROM person_term_df f
     USING unnest(v_users, v_terms, v_deltas) AS d(user_id, term, delta)
     WHERE d.delta < 0 AND f.user_id = d.user_id AND f.term = d.term AND f.people <= 0;
    RETURN NULL;
END $$;

COMMENT ON FUNCTION person_term_df_apply() IS
    'Statement trigger of person_insights: adds the changes of its rows'' terms to person_term_df (see the migration''s comment).';

CREATE TRIGGER person_term_df_insert AFTER INSERT ON person_insights
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION person_term_df_apply();
CREATE TRIGGER person_term_df_update AFTER UPDATE ON person_insights
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION person_term_df_apply();
CREATE TRIGGER person_term_df_delete AFTER DELETE ON person_insights
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION person_term_df_apply();

SELECT everreach_grant_app();
