-- Owns: saved views of the people list (issue 12) — a name and the list's query
-- (search text, channel, activity state, sort) as a URL query string, so a view is
-- one click and the same link can still be bookmarked or shared.

CREATE TABLE saved_views (
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    id UUID NOT NULL DEFAULT gen_random_uuid(),
    -- which list the view is of; only 'people' so far
    list TEXT NOT NULL DEFAULT 'people' CHECK (list IN ('people')),
    name VARCHAR(100) NOT NULL CHECK (length(btrim(name)) > 0),
    -- the list's query string without a cursor, e.g. `q=ana&channel=instagram&sort=name`
    query TEXT NOT NULL DEFAULT '' CHECK (length(query) <= 2000),
    created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    PRIMARY KEY (user_id, id),
    UNIQUE (user_id, list, name)
);
COMMENT ON TABLE saved_views IS 'Named filters of a list page (the people list), kept as its URL query.';
SELECT everreach_tenant_rls('saved_views');
SELECT everreach_grant_app();
