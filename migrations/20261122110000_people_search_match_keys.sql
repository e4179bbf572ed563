-- The people graph for a user of it (issue 10): search, merge suggestions from an
-- incremental table, and "not the same person" answers that are kept.
--
-- * person_match_keys: per person, the normalised facts merge suggestions match on
--   (an e-mail address, a LinkedIn profile, name with company, a handle's stem, a
--   name) and the text search reads (every handle, e-mail and name). Rebuilt for the
--   people a write touched by the people.match_keys job (queued by the insight job,
--   so ingestion does no extra work), and for everyone by the nightly recompute.
--   Suggestions are a self-join on (user_id, kind, value); search is a trigram match
--   on value.
-- * person_merge_dismissals: a pair a person said are two humans; never suggested
--   again. Stored with person_a < person_b.
-- * Trigram indexes behind search.

CREATE TABLE person_match_keys (
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    person_id UUID NOT NULL,
    -- email, linkedin, name_company, handle_stem, name, handle
    kind TEXT NOT NULL CHECK (kind IN ('email', 'linkedin', 'name_company', 'handle_stem', 'name', 'handle')),
    value TEXT NOT NULL CHECK (length(value) BETWEEN 1 AND 512),
    -- where the person has it: "email identity", "instagram bio", …
    source TEXT NOT NULL,
    PRIMARY KEY (user_id, person_id, kind, value, source),
    FOREIGN KEY (user_id, person_id) REFERENCES people (user_id, id) ON DELETE CASCADE
);
COMMENT ON TABLE person_match_keys IS 'Per person, the normalised facts merge suggestions and search match on; rebuilt by the people.match_keys job (issue 10).';
CREATE INDEX idx_person_match_keys_value ON person_match_keys (user_id, kind, value);
-- Trigram indexes apart for names (similar-name evidence) and for what search reads
-- (handles, e-mails): one index over every kind would hand a name's lookup every
-- handle sharing a few digits.
CREATE INDEX idx_person_match_keys_name_trgm ON person_match_keys USING gin (value gin_trgm_ops)
    WHERE kind = 'name';
CREATE INDEX idx_person_match_keys_search_trgm ON person_match_keys USING gin (value gin_trgm_ops)
    WHERE kind IN ('handle', 'email');
SELECT everreach_tenant_rls('person_match_keys');

-- The merge suggestions themselves, per pair (person_a < person_b), rebuilt for the
-- pairs of the people a refresh covers; read best first.
CREATE TABLE person_merge_candidates (
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    person_a UUID NOT NULL,
    person_b UUID NOT NULL,
    score DOUBLE PRECISION NOT NULL CHECK (score > 0 AND score <= 1),
    evidence JSONB NOT NULL,
    computed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, person_a, person_b),
    CHECK (person_a < person_b),
    FOREIGN KEY (user_id, person_a) REFERENCES people (user_id, id) ON DELETE CASCADE,
    FOREIGN KEY (user_id, person_b) REFERENCES people (user_id, id) ON DELETE CASCADE
);
COMMENT ON TABLE person_merge_candidates IS 'Merge suggestions per pair with score and evidence, rebuilt by the people.match_keys job from person_match_keys (issue 10).';
CREATE INDEX idx_person_merge_candidates_best ON person_merge_candidates (user_id, score DESC, person_a, person_b);
CREATE INDEX idx_person_merge_candidates_b ON person_merge_candidates (user_id, person_b);
SELECT everreach_tenant_rls('person_merge_candidates');

CREATE TABLE person_merge_dismissals (
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    person_a UUID NOT NULL,
    person_b UUID NOT NULL,
    actor_id UUID,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, person_a, person_b),
    CHECK (person_a < person_b),
    FOREIGN KEY (user_id, person_a) REFERENCES people (user_id, id) ON DELETE CASCADE,
    FOREIGN KEY (user_id, person_b) REFERENCES people (user_id, id) ON DELETE CASCADE
);
COMMENT ON TABLE person_merge_dismissals IS 'Pairs of people a user said are not the same human: never suggested for a merge again (issue 10).';
SELECT everreach_tenant_rls('person_merge_dismissals');

-- Search on the people row itself (no job needed for a rename to be found).
CREATE INDEX idx_people_full_name_trgm ON people USING gin (lower(full_name) gin_trgm_ops);
CREATE INDEX idx_people_primary_email_trgm ON people USING gin (lower(primary_email) gin_trgm_ops);
-- The directory (everyone by warmth, last activity or name) sorts a tenant's people
-- per page instead of reading an index: an index on person_insights' warmth or
-- last_active_at would make every recompute's upsert maintain it (no HOT update),
-- and the insight jobs must not get slower.

INSERT INTO job_queues (name) VALUES ('people.match_keys'), ('__state__completed__people.match_keys'),
    ('people.insights.nightly'), ('__state__completed__people.insights.nightly')
    ON CONFLICT DO NOTHING;
