-- Issue 13: what Revio scoring (`crates/core/src/crm/score.rs`, `rules.rs`) keeps beyond seed 001.
-- 1. A stage the user pins by hand is kept apart from the stage the rules reach, so
--    it is shown as an override and can be lifted; relationship_stage shows the
--    override while there is one.
ALTER TABLE instagram_contacts
    ADD COLUMN stage_override TEXT CHECK (stage_override IN (
        'first_touch', 'context_captured', 'micro_win_delivered', 'cadence_established',
        'trust_signals', 'fit_repeats', 'permissioned_offer', 'post_win'));
COMMENT ON COLUMN instagram_contacts.stage_override IS
    'A stage pinned by the user (PATCH relationship_stage); NULL lets the rules decide.';

-- 2. Each change of a contact's stage, with who or what made it and why: the contact
--    page's stage history.
CREATE TABLE instagram_contact_stages (
    id UUID NOT NULL DEFAULT gen_random_uuid(),
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    contact_id UUID NOT NULL,
    stage TEXT NOT NULL,
    previous_stage TEXT,
    -- 'rules' (the evidence reached it) or 'manual' (pinned or lifted by the user)
    source TEXT NOT NULL CHECK (source IN ('rules', 'manual')),
    reason TEXT NOT NULL,
    changed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, id),
    FOREIGN KEY (user_id, contact_id) REFERENCES instagram_contacts(user_id, id) ON DELETE CASCADE
);
COMMENT ON TABLE instagram_contact_stages IS 'Issue 13. Stage history of an Instagram contact: each change, its source and reason.';
CREATE INDEX idx_instagram_contact_stages_contact
    ON instagram_contact_stages (user_id, contact_id, changed_at DESC);
SELECT everreach_tenant_rls('instagram_contact_stages');
