-- Issue 13: contacts are rescored by the crm.rescore job (one tenant per job) —
-- nightly for every tenant (crm.rescore.nightly), because reliability and value
-- delivered look back a fixed window, and after a fit signal is written, because a
-- signal applies to messages already stored. The queue exists before any worker has
-- run, since a write of a fit signal sends to it.
INSERT INTO job_queues (name) VALUES ('crm.rescore'), ('__state__completed__crm.rescore'),
    ('crm.rescore.nightly'), ('__state__completed__crm.rescore.nightly')
ON CONFLICT DO NOTHING;
