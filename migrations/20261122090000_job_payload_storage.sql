-- Job payloads are stored uncompressed (issue 5, people graph). A recompute job of a
-- 10,000-event batch carries ~400 KB of ids; pglz compressing it took ~5 ms of the
-- batch's transaction (bench ingest), and again when the finished job moves to
-- jobs_history. Payloads are transient (a job is archived, then deleted), so the disk
-- saved was not worth the CPU. Small payloads are unaffected (they are not toasted).
ALTER TABLE jobs ALTER COLUMN data SET STORAGE EXTERNAL;
