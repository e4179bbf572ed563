-- Issue 13: 001's weekly-task query ("Get Weekly Tasks by Score Range") names the
-- 40–59 relationship-score band "curiosity", between rewarm (<40) and service
-- (60–79), yet 001's lane table lists only five lanes; the seeded next-best-action
-- templates (core/src/crm/seed.rs) have a curiosity lane, so the lane CHECK written
-- in …000600 allows it too.
ALTER TABLE next_best_actions DROP CONSTRAINT next_best_actions_lane_check;
ALTER TABLE next_best_actions ADD CONSTRAINT next_best_actions_lane_check
    CHECK (lane IN ('friendship', 'service', 'curiosity', 'offer', 'retention', 'rewarm'));
