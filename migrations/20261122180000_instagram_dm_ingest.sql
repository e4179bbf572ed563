-- Issue 13: what DM ingestion (`crates/core/src/crm/dm.rs`) needs beyond seed 001.
-- 1. A message a spam pattern flags is stored (nothing a user might want is lost) and
--    marked with the pattern's key, so the inbox can show it apart and scoring can
--    leave it out.
ALTER TABLE instagram_messages ADD COLUMN spam_pattern TEXT;
COMMENT ON COLUMN instagram_messages.spam_pattern IS
    'The spam_pattern (automation_patterns.pattern_key) that flagged this incoming message; NULL when none did.';

-- 2. One conversation per contact and Instagram thread id (a message without a thread
--    id joins the contact's latest): concurrent batches about the same contact then
--    meet on this key instead of opening two threads.
CREATE UNIQUE INDEX idx_instagram_conversations_thread
    ON instagram_conversations (user_id, contact_id, (coalesce(thread_id, '')));
