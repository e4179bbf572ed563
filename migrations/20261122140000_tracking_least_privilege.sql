-- Owns: the public tracking routes' least privilege and the tenant's allowlist of
-- tracking destinations (issue 11, docs/SECURITY.md).
--
-- The open pixel and the click redirect are reached by anyone who holds a signed
-- link. Their transaction drops to everreach_tracker (`SET LOCAL ROLE`), which may
-- only mark a message opened or clicked and record what that implies: the timeline
-- event, the domain event, the insight job. It reads nothing else and changes nothing
-- else, under the same row-level security as the app.

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'everreach_tracker') THEN
        CREATE ROLE everreach_tracker NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
    END IF;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE EXCEPTION 'migrate: cannot create role everreach_tracker: % needs CREATEROLE, or an administrator must run: CREATE ROLE everreach_tracker NOLOGIN; GRANT everreach_tracker TO everreach_app', current_user;
END
$$;
GRANT everreach_tracker TO everreach_app;

GRANT USAGE ON SCHEMA public TO everreach_tracker;
GRANT SELECT (id, user_id, person_id, channel, variant, opened_at, clicked_at),
      UPDATE (opened_at, clicked_at) ON outbound_messages TO everreach_tracker;
GRANT SELECT ON people, identities TO everreach_tracker;
GRANT SELECT, INSERT ON person_events TO everreach_tracker;
GRANT USAGE ON SEQUENCE person_events_id_seq TO everreach_tracker;
GRANT SELECT ON job_queues, event_subscriptions TO everreach_tracker;
-- the insight job; enqueueing reads whether its queue is idle (no payload, no tenant)
GRANT INSERT, SELECT (id, name, state, start_after) ON jobs TO everreach_tracker;
GRANT SELECT (id), INSERT ON events TO everreach_tracker;
GRANT EXECUTE ON FUNCTION current_user_id(), current_actor(),
    log_event(uuid, varchar, uuid, varchar, jsonb, jsonb) TO everreach_tracker;

-- Destinations a writer may sign for tracking beyond the links in the message itself:
-- a host on this list or a subdomain of one.
CREATE TABLE tracking_domains (
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    domain VARCHAR(253) NOT NULL CHECK (domain = lower(domain) AND domain ~ '^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$'),
    created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    PRIMARY KEY (user_id, domain)
);
COMMENT ON TABLE tracking_domains IS
    'Domains whose URLs a writer may sign as tracked links without the URL being in the message.';
SELECT everreach_tenant_rls('tracking_domains');
SELECT everreach_grant_app();
