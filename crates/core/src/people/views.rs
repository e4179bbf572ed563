//! Saved views of the people list (`saved_views`): a name and the list's query
//! string. Created and deleted through the generic resources (`/api/v1/saved-views`,
//! which validate and audit); read here for the list page.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::db::tenant::TenantTx;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SavedView {
    pub id: Uuid,
    pub name: String,
    pub query: String,
    pub created_at: DateTime<Utc>,
}

/// The tenant's views of `list`, A to Z.
pub async fn list(tx: &mut TenantTx, list: &str) -> Result<Vec<SavedView>, sqlx::Error> {
    let user_id = tx.user_id();
    sqlx::query_as(
        "SELECT id, name::text, query, created_at FROM saved_views
          WHERE user_id = $1 AND list = $2 ORDER BY lower(name), id",
    )
    .bind(user_id)
    .bind(list)
    .fetch_all(&mut **tx)
    .await
}
