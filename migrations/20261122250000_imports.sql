-- Issue 14: imports uploaded through the API or the Imports page, run as a job.
--
-- 1. imports: one row per upload — its kind, the file's name, size and SHA-256, the
--    options (dry run, the Instagram owner), where the job is (status and progress)
--    and, once done, the report (created/updated/skipped/rejected, reasons, problems
--    by file and line). Written only by the domain (core/src/imports/store.rs).
CREATE TABLE imports (
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    id UUID NOT NULL DEFAULT gen_random_uuid(),
    kind TEXT NOT NULL CHECK (kind IN ('instagram', 'linkedin', 'csv', 'vcard', 'mbox')),
    status TEXT NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'done', 'failed')),
    file_name TEXT NOT NULL CHECK (length(file_name) BETWEEN 1 AND 255),
    file_size BIGINT NOT NULL CHECK (file_size >= 0),
    sha256 TEXT NOT NULL,
    dry_run BOOLEAN NOT NULL DEFAULT false,
    options JSONB NOT NULL DEFAULT '{}',
    progress_done BIGINT NOT NULL DEFAULT 0,
    progress_total BIGINT,
    progress_unit TEXT,
    report JSONB,
    error TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    started_at TIMESTAMPTZ,
    finished_at TIMESTAMPTZ,
    PRIMARY KEY (user_id, id)
);
CREATE INDEX idx_imports_recent ON imports (user_id, created_at DESC, id DESC);
COMMENT ON TABLE imports IS 'Issue 14. An uploaded file to import (Instagram export, LinkedIn, CSV, vCard, mbox), its progress and its report; run by the imports.run job.';
SELECT everreach_tenant_rls('imports');

-- 2. import_chunks: the uploaded bytes, 1 MiB a row, kept in the database so any
--    worker can run the import (`everreach worker` may run on another machine than
--    `serve`); deleted once the import has run.
CREATE TABLE import_chunks (
    user_id UUID NOT NULL,
    import_id UUID NOT NULL,
    seq INTEGER NOT NULL CHECK (seq >= 0),
    data BYTEA NOT NULL,
    PRIMARY KEY (user_id, import_id, seq),
    FOREIGN KEY (user_id, import_id) REFERENCES imports (user_id, id) ON DELETE CASCADE
);
ALTER TABLE import_chunks ALTER COLUMN data SET STORAGE EXTERNAL;
COMMENT ON TABLE import_chunks IS 'Issue 14. An import''s uploaded file in 1 MiB pieces (seq from 0), until the import has run.';
SELECT everreach_tenant_rls('import_chunks');

INSERT INTO job_queues (name) VALUES ('imports.run'), ('__state__completed__imports.run')
ON CONFLICT DO NOTHING;
