-- Owns: the rules of the people graph that seed 000 leaves to code (issue 5):
--   * person_events dedupe — one row per (person, channel, event_type, platform_id),
--     so re-ingesting an export or a webhook retry stores nothing twice;
--   * person_merges — the append-only record of every merge and its undo: which
--     ids, who, when, and what moved, enough to restore the exact prior state;
--   * the queue of insight recomputes that ingestion and merges enqueue, and
--     person_insights.computed_snapshot, which lets a recompute job skip people whose
--     insights were computed by a transaction that already saw the job's writes.

-- Events without a platform_id (hand-logged notes) are never duplicates of each other.
CREATE UNIQUE INDEX idx_person_events_dedupe
    ON person_events (user_id, person_id, channel, event_type, platform_id)
    WHERE platform_id IS NOT NULL;

CREATE TABLE person_merges (
    id UUID NOT NULL DEFAULT gen_random_uuid(),
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    -- 'merge' moved merged_id into survivor_id; 'undo' reversed the merge `undoes`
    kind TEXT NOT NULL CHECK (kind IN ('merge', 'undo')),
    survivor_id UUID NOT NULL,
    merged_id UUID NOT NULL,
    undoes UUID,
    -- the signed-in user who asked (NULL for the system)
    actor_id UUID,
    -- for a merge: both people rows as they were, and the ids of every row moved or
    -- dropped per table; for an undo: what was put back
    moved JSONB NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    PRIMARY KEY (user_id, id),
    FOREIGN KEY (user_id, undoes) REFERENCES person_merges (user_id, id) ON DELETE CASCADE,
    CHECK ((kind = 'undo') = (undoes IS NOT NULL)),
    CHECK (survivor_id <> merged_id)
);
COMMENT ON TABLE person_merges IS 'Append-only record of people merges and their undos (issue 5); a merge is undone at most once.';

CREATE UNIQUE INDEX idx_person_merges_undone_once ON person_merges (user_id, undoes) WHERE undoes IS NOT NULL;
CREATE INDEX idx_person_merges_survivor ON person_merges (user_id, survivor_id, created_at DESC);
CREATE INDEX idx_person_merges_merged ON person_merges (user_id, merged_id, created_at DESC);

-- Append-only: a record is never rewritten (rows go only with their tenant or when
-- the person they name is erased).
CREATE FUNCTION person_merges_append_only() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    RAISE EXCEPTION 'person_merges is append-only: record an undo instead of changing a merge'
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER person_merges_append_only BEFORE UPDATE ON person_merges
    FOR EACH ROW EXECUTE FUNCTION person_merges_append_only();

SELECT everreach_tenant_rls('person_merges');

INSERT INTO job_queues (name) VALUES ('people.insights'), ('__state__completed__people.insights')
    ON CONFLICT DO NOTHING;

-- An UPDATE that sets updated_at itself keeps that value; any other UPDATE stamps
-- now(). Undoing a merge puts rows back exactly as they were, updated_at included.
CREATE OR REPLACE FUNCTION update_updated_at() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    IF NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at THEN
        NEW.updated_at = NOW();
    END IF;
    RETURN NEW;
END;
$$;

-- Erasing one person (DELETE /api/v1/people/{id}) also scrubs what the audit log
-- holds of them: rows of the caller's tenant whose old or new values are that
-- person's row or name them by person_id keep who/when/which table, but their values
-- become {"erased": true, "id": …}. audit_log is not a tenant table and the app may
-- only insert into it, hence a definer function bound to the caller's tenant.
CREATE FUNCTION erase_person_audit(p_person uuid) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public
    AS $$
DECLARE
    v_user uuid := nullif(current_setting('app.user_id', true), '')::uuid;
    v_count bigint;
BEGIN
    IF v_user IS NULL THEN
        RAISE EXCEPTION 'no tenant is set' USING ERRCODE = 'insufficient_privilege';
    END IF;
    UPDATE public.audit_log a
       SET old_values = CASE WHEN a.old_values IS NULL THEN NULL
                             ELSE jsonb_build_object('erased', true, 'id', a.old_values->'id') END,
           new_values = CASE WHEN a.new_values IS NULL THEN NULL
                             ELSE jsonb_build_object('erased', true, 'id', a.new_values->'id') END
     WHERE a.user_id = v_user
       AND (a.old_values->>'person_id' = p_person::text OR a.new_values->>'person_id' = p_person::text
            OR (a.table_name = 'people' AND (a.old_values->>'id' = p_person::text OR a.new_values->>'id' = p_person::text)));
    GET DIAGNOSTICS v_count = ROW_COUNT;
    RETURN v_count;
END;
$$;
GRANT UPDATE (old_values, new_values) ON public.audit_log TO everreach_definer;
ALTER FUNCTION erase_person_audit(uuid) OWNER TO everreach_definer;
REVOKE ALL ON FUNCTION erase_person_audit(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION erase_person_audit(uuid) TO everreach_app;

-- Ingestion rewrites identities' first/last seen times batch after batch. Room on each
-- page lets those be HOT updates (no new entry in any of the table's four indexes).
ALTER TABLE identities SET (fillfactor = 70);

-- The snapshot (pg_snapshot as text) taken before the last recompute of a person's
-- insights read anything: a recompute job made by transaction X skips this person when
-- pg_visible_in_snapshot(X, computed_snapshot), i.e. that recompute saw X's writes.
ALTER TABLE person_insights ADD COLUMN computed_snapshot TEXT;
COMMENT ON COLUMN person_insights.computed_snapshot IS 'pg_current_snapshot() taken before the recompute that wrote this row read the events; set by the server.';
