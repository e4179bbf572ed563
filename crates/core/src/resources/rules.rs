//! Row rules a domain owns, applied by the generic resources before a create or
//! patch is stored (after the type checks of [`super::validate`]), and what a domain
//! does after a generic write of its table, in the write's transaction (queue a job
//! that brings derived data up to date). The generic layer
//! knows no domain: each domain hands its rules over through its registration
//! (`everreach_api::domain::Domain::table_rules`), and [`super::Resources::with_rules`]
//! receives every registered domain's. A domain whose rows need more than a row —
//! merging, ingestion — takes the generic operation over or refuses it instead.

use std::future::Future;
use std::pin::Pin;

use serde_json::{Map, Value};

use super::validate::{Mode, Problems};
use crate::db::tenant::TenantTx;

/// What runs after a generic write, in its transaction, given the rows written (the
/// new row of a create, the old and new rows of a patch, the old row of a delete).
pub type AfterWrite =
    for<'a> fn(
        &'a mut TenantTx,
        &'a [Value],
    ) -> Pin<Box<dyn Future<Output = Result<(), sqlx::Error>> + Send + 'a>>;

/// One table's rule: `apply` checks and normalises a create or patch body in place
/// and returns every problem found; `after_write`, if any, runs after each generic
/// create, patch or delete of the table.
#[derive(Debug, Clone, Copy)]
pub struct TableRule {
    pub table: &'static str,
    pub apply: fn(&mut Map<String, Value>, Mode) -> Problems,
    pub after_write: Option<AfterWrite>,
}

/// Whether any rule of `table` has an `after_write` (which may change the row).
pub fn has_after_write(rules: &[TableRule], table: &str) -> bool {
    rules
        .iter()
        .any(|r| r.table == table && r.after_write.is_some())
}

/// Runs every `after_write` of `table`'s rules.
pub async fn after_write(
    rules: &[TableRule],
    table: &str,
    tx: &mut TenantTx,
    rows: &[Value],
) -> Result<(), sqlx::Error> {
    for rule in rules.iter().filter(|r| r.table == table) {
        if let Some(after) = rule.after_write {
            after(tx, rows).await?;
        }
    }
    Ok(())
}

/// Applies every rule for `table` to `body` in place; the problems, if any.
pub fn apply(
    rules: &[TableRule],
    table: &str,
    body: &mut Map<String, Value>,
    mode: Mode,
) -> Problems {
    rules
        .iter()
        .filter(|r| r.table == table)
        .flat_map(|r| (r.apply)(body, mode))
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn shout(body: &mut Map<String, Value>, _: Mode) -> Problems {
        body.insert("name".into(), json!("LOUD"));
        vec![("/name".into(), "was changed".into())]
    }

    #[test]
    fn only_the_tables_rules_apply() {
        let rules = [TableRule {
            table: "people",
            apply: shout,
            after_write: None,
        }];
        let mut body = Map::new();
        assert!(apply(&rules, "identities", &mut body, Mode::Create).is_empty());
        assert!(body.is_empty());
        assert_eq!(apply(&rules, "people", &mut body, Mode::Patch).len(), 1);
        assert_eq!(body["name"], "LOUD");
    }
}
