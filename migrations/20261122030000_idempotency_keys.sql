-- Owns: idempotency keys of API writes (docs/API.md "Idempotency"). A client that
-- retries a POST with the same `Idempotency-Key` gets the first response back
-- instead of a second row. Kept 24 hours; a tenant table like any other.

CREATE TABLE idempotency_keys (
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    key VARCHAR(255) NOT NULL,
    -- SHA-256 of method, path and body: the same key with another request is refused
    request_hash TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    -- NULL while the first request is still being handled
    completed_at TIMESTAMPTZ,
    response_status SMALLINT,
    response_content_type TEXT,
    response_location TEXT,
    response_body BYTEA,
    PRIMARY KEY (user_id, key)
);
CREATE INDEX idx_idempotency_keys_created ON idempotency_keys (created_at);
COMMENT ON TABLE idempotency_keys IS 'Responses of POSTs sent with an Idempotency-Key, replayed on retry for 24 hours.';

SELECT everreach_tenant_rls('idempotency_keys');
