//! What the Patterns and templates page lists: the user's next-best-action
//! templates (by lane, then stage), fit signals (by product) and automation
//! patterns (by type), active ones first within each group. Changes go through the
//! generic resources (`next-best-actions`, `fit-signals`, `automation-patterns`) and
//! the checks of `rules.rs`, as the API's do.

use serde_json::Value;
use uuid::Uuid;

use crate::db::tenant::TenantTx;
use crate::error::DomainResult;

/// The most rows of each kind a page lists (seeding puts 20 templates, 13 signals
/// and 50 patterns; a user who adds more pages through the API).
pub const LIST_LIMIT: i64 = 500;

/// A `next_best_actions` row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TemplateRow {
    pub id: Uuid,
    pub lane: String,
    pub stage: Option<String>,
    pub action_key: String,
    pub action_text: String,
    pub is_active: Option<bool>,
}

/// A `fit_signals` row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SignalRow {
    pub id: Uuid,
    pub product: String,
    pub signal_key: String,
    pub signal_description: String,
    pub offer_template: Option<String>,
    pub is_active: Option<bool>,
}

/// An `automation_patterns` row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PatternRow {
    pub id: Uuid,
    pub pattern_type: String,
    pub pattern_key: String,
    pub pattern_value: String,
    pub metadata: Option<Value>,
    pub is_active: Option<bool>,
}

/// The templates, in lane order (001's lanes, then `curiosity`), then by stage.
pub async fn templates(tx: &mut TenantTx) -> DomainResult<Vec<TemplateRow>> {
    Ok(sqlx::query_as(
        "SELECT id, lane, stage, action_key, action_text, is_active FROM next_best_actions
          WHERE user_id = $1
          ORDER BY array_position(ARRAY['friendship','service','curiosity','rewarm','offer','retention'], lane) NULLS LAST,
                   lane, stage NULLS FIRST, action_key
          LIMIT $2",
    )
    .bind(tx.user_id())
    .bind(LIST_LIMIT)
    .fetch_all(&mut **tx)
    .await?)
}

/// The fit signals, by product.
pub async fn signals(tx: &mut TenantTx) -> DomainResult<Vec<SignalRow>> {
    Ok(sqlx::query_as(
        "SELECT id, product, signal_key, signal_description, offer_template, is_active FROM fit_signals
          WHERE user_id = $1 ORDER BY product, is_active IS NOT TRUE, signal_key LIMIT $2",
    )
    .bind(tx.user_id())
    .bind(LIST_LIMIT)
    .fetch_all(&mut **tx)
    .await?)
}

/// The automation patterns, by type.
pub async fn patterns(tx: &mut TenantTx) -> DomainResult<Vec<PatternRow>> {
    Ok(sqlx::query_as(
        "SELECT id, pattern_type, pattern_key, pattern_value, metadata, is_active FROM automation_patterns
          WHERE user_id = $1 ORDER BY pattern_type, is_active IS NOT TRUE, pattern_key LIMIT $2",
    )
    .bind(tx.user_id())
    .bind(LIST_LIMIT)
    .fetch_all(&mut **tx)
    .await?)
}
