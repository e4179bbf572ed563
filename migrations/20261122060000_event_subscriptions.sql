-- Owns: subscriptions of queues to domain events. Whatever reacts to an event inside
-- EverReach ("recompute this person's insights") is a job, enqueued by this trigger
-- in the same transaction as the event — so it exists exactly when the event does —
-- never a callback. Installation-wide; not a tenant table.

CREATE TABLE event_subscriptions (
    -- the queue that receives a job per matching event
    queue VARCHAR(100) NOT NULL,
    -- LIKE pattern on events.event_type, e.g. 'person_event.%'
    event_type_pattern VARCHAR(100) NOT NULL,
    -- one live job per entity (a burst of events about one person recomputes once)
    dedupe_by_entity BOOLEAN NOT NULL DEFAULT TRUE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    PRIMARY KEY (queue, event_type_pattern)
);
COMMENT ON TABLE event_subscriptions IS 'Queues that get a job for each domain event whose type matches.';

CREATE FUNCTION events_enqueue_subscribers() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, public
    AS $$
DECLARE
    v_queue text;
BEGIN
    FOR v_queue IN
        WITH sent AS (
            INSERT INTO public.jobs (name, data, user_id, singleton_key)
            SELECT s.queue,
                   jsonb_build_object('event_id', NEW.id, 'event_type', NEW.event_type,
                                      'entity_type', NEW.entity_type, 'entity_id', NEW.entity_id),
                   NEW.user_id,
                   CASE WHEN s.dedupe_by_entity THEN left(NEW.entity_type || ':' || NEW.entity_id::text, 100) END
              FROM public.event_subscriptions s
             WHERE NEW.event_type LIKE s.event_type_pattern
            ON CONFLICT DO NOTHING
            RETURNING name)
        SELECT DISTINCT name FROM sent
    LOOP
        -- log_event() already NOTIFYs in this transaction, so waking the queue is free.
        PERFORM pg_notify('jobs', v_queue);
    END LOOP;
    RETURN NULL;
END;
$$;

CREATE TRIGGER events_enqueue_subscribers AFTER INSERT ON events
    FOR EACH ROW EXECUTE FUNCTION events_enqueue_subscribers();
