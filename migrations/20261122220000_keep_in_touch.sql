-- Issue 13: a keep-in-touch cadence per person, set by hand (Monica #1814, Dex): the
-- next touch is due this many days after the last touch on ANY channel — a DM, an
-- e-mail, a comment, ours or theirs (person_events) — not only after a logged note.
-- NULL: the cadence follows their activity state (core::people::profile::next_touch).
ALTER TABLE people ADD COLUMN keep_in_touch_days INTEGER
    CHECK (keep_in_touch_days BETWEEN 1 AND 365);
COMMENT ON COLUMN people.keep_in_touch_days IS
    'Keep in touch every this many days after the last touch on any channel; NULL follows the activity state.';
